/**
 * Every CLI subcommand registers itself here; each lives in its own file. Later issues add
 * gossip, stun, turn and bench.
 */
import type { CommandRegistry } from '../command.js';
import { echoCommand } from './echo.js';
import { serveCommand } from './serve.js';
import { fetchCommand } from './fetch.js';
import { wsCommand } from './ws.js';
import { dhtCommand } from './dht.js';
import { gossipCommand } from './gossip.js';
import { stunCommand } from './stun.js';
import { turnCommand } from './turn.js';

export function registerCommands(registry: CommandRegistry): void {
  registry.register(echoCommand);
  registry.register(serveCommand);
  registry.register(fetchCommand);
  registry.register(wsCommand);
  registry.register(dhtCommand);
  registry.register(gossipCommand);
  registry.register(stunCommand);
  registry.register(turnCommand);
}
