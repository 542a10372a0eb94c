/**
 * `ghostnet` command-line entry point. `bin/ghostnet.js` calls `main(argv, io)` and exits
 * with the code it returns: 0 success, 1 failure, 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GhostnetError } from '../errors.js';
import { CommandRegistry, UsageError } from './command.js';
import type { Command, CommandIo, OptionSpec } from './command.js';
import { registerCommands } from './commands/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  help: { type: 'boolean', short: 'h', description: 'Show help for ghostnet or a command' },
  json: { type: 'boolean', description: 'Print data as JSON' },
};

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function createRegistry(): CommandRegistry {
  const registry = new CommandRegistry();
  registerCommands(registry);
  return registry;
}

function optionUsage(name: string, spec: OptionSpec): string {
  const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}`;
  const value = spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : '';
  const repeat = spec.multiple ? ' (repeatable)' : '';
  return `  ${(flag + value).padEnd(30)} ${spec.description}${repeat}`;
}

export function globalHelp(registry: CommandRegistry): string {
  const commands = registry.list();
  const width = Math.max(8, ...commands.map((c) => c.name.length)) + 2;
  return [
    'ghostnet — hand-written network protocol stacks for Node.js',
    '',
    'Usage:',
    '  ghostnet <command> [options]',
    '  ghostnet --help | --version [--json]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "Run 'ghostnet <command> --help' for a command's options.",
    '',
  ].join('\n');
}

export function commandHelp(command: Command): string {
  const options = { ...command.options, ...GLOBAL_OPTIONS };
  return [
    `Usage: ghostnet ${command.usage}`,
    '',
    command.description ?? command.summary,
    '',
    'Options:',
    ...Object.entries(options).map(([name, spec]) => optionUsage(name, spec)),
    '',
  ].join('\n');
}

function closest(name: string, candidates: string[]): string | undefined {
  // Levenshtein distance, for "did you mean"; names are short so O(n*m) is fine.
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const row = Array.from({ length: candidate.length + 1 }, (_, i) => i);
    for (let i = 1; i <= name.length; i++) {
      let previous = row[0]!;
      row[0] = i;
      for (let j = 1; j <= candidate.length; j++) {
        const current = row[j]!;
        const cost = name[i - 1] === candidate[j - 1] ? 0 : 1;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + cost);
        previous = current;
      }
    }
    const distance = row[candidate.length]!;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best;
}

function printError(io: CommandIo, message: string): void {
  io.stderr.write(`ghostnet: ${message}\n`);
}

/** Runs the CLI with `argv` (without node and script). Never throws; returns the exit code. */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const registry = createRegistry();
  const [first, ...rest] = argv;

  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined) {
      const command = registry.get(topic);
      if (!command) {
        printError(io, `unknown command '${topic}'. Run 'ghostnet --help' for the list.`);
        return EXIT_USAGE;
      }
      io.stdout.write(commandHelp(command));
      return EXIT_OK;
    }
    io.stdout.write(globalHelp(registry));
    return EXIT_OK;
  }

  if (first === '--version' || first === '-v') {
    const extra = rest.filter((a) => a !== '--json');
    if (extra.length > 0) {
      printError(io, `unexpected argument '${extra[0]}' after --version`);
      return EXIT_USAGE;
    }
    const version = packageVersion();
    io.stdout.write(
      rest.includes('--json')
        ? `${JSON.stringify({ name: 'ghostnet', version, node: process.versions.node })}\n`
        : `ghostnet ${version}\n`,
    );
    return EXIT_OK;
  }

  if (first.startsWith('-')) {
    printError(io, `unknown option '${first}'. Run 'ghostnet --help' for usage.`);
    return EXIT_USAGE;
  }

  const command = registry.get(first);
  if (!command) {
    const suggestion = closest(
      first,
      registry.list().map((c) => c.name),
    );
    printError(
      io,
      `unknown command '${first}'.${suggestion ? ` Did you mean '${suggestion}'?` : ''} ` +
        "Run 'ghostnet --help' for the list.",
    );
    return EXIT_USAGE;
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...command.options, ...GLOBAL_OPTIONS },
      strict: true,
      allowPositionals: command.allowPositionals ?? false,
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    printError(io, `${message}\nUsage: ghostnet ${command.usage}`);
    return EXIT_USAGE;
  }

  if (parsed.values.help === true) {
    io.stdout.write(commandHelp(command));
    return EXIT_OK;
  }

  try {
    return await command.run({
      io,
      values: parsed.values,
      positionals: parsed.positionals,
      json: parsed.values.json === true,
    });
  } catch (err) {
    if (err instanceof UsageError) {
      printError(io, `${err.message}\nUsage: ghostnet ${command.usage}`);
      return EXIT_USAGE;
    }
    if (err instanceof GhostnetError) {
      printError(io, `${err.message} (${err.code})`);
      return EXIT_FAILURE;
    }
    printError(io, err instanceof Error ? (err.stack ?? err.message) : String(err));
    return EXIT_FAILURE;
  }
}
