/**
 * The CLI's command model. Each subcommand is a `Command` object in its own file under
 * `commands/`, and registers itself through `register(registry)`; `main.ts` knows nothing
 * about individual commands.
 */
import type { Writable } from 'node:stream';
import { GhostnetError } from '../errors.js';

/** One option of a command, in the shape node:util parseArgs takes, plus help text. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly description: string;
  /** Shown in help as `--name VALUE`. */
  readonly valueName?: string;
}

export interface CommandIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CommandContext {
  readonly io: CommandIo;
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  /** `--json` was given: print data as JSON. */
  readonly json: boolean;
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line(s) after `ghostnet `, e.g. `serve [--port P]`. */
  readonly usage: string;
  readonly description?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Whether the command accepts positional arguments. @default false */
  readonly allowPositionals?: boolean;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** A mistake in how the command was called: printed with the usage, exit code 2. */
export class UsageError extends GhostnetError {
  constructor(message: string) {
    super('GN_ERR_USAGE', message);
  }
}

export class CommandRegistry {
  readonly #commands = new Map<string, Command>();

  register(command: Command): void {
    if (this.#commands.has(command.name)) {
      throw new GhostnetError(
        'GN_ERR_DUPLICATE_COMMAND',
        `A command named "${command.name}" is already registered`,
      );
    }
    this.#commands.set(command.name, command);
  }

  get(name: string): Command | undefined {
    return this.#commands.get(name);
  }

  list(): Command[] {
    return [...this.#commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
