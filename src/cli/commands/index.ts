/**
 * Every CLI subcommand registers itself here; each lives in its own file. Later issues add
 * serve, fetch, ws, dht, gossip, stun, turn and bench.
 */
import type { CommandRegistry } from '../command.js';
import { echoCommand } from './echo.js';

export function registerCommands(registry: CommandRegistry): void {
  registry.register(echoCommand);
}
