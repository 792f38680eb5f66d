import { READ_OPTION_HELP } from './read-options.js';
import { Command } from '@commander-js/extra-typings';
import { VERDICT_KINDS } from '../report-schema.js';
import type { CliDependencies } from './dependencies.js';
import type { FailOnKind, RunOutcome } from './exit-code.js';
import { HUB_ENVIRONMENT_HELP, HUB_OPTION_HELP } from './hub-options.js';
import { runInspect } from './inspect-command.js';
import { runReproduce } from './reproduce-command.js';
import { runMerge } from './merge-command.js';
import { OUTPUT_FORMATS } from '../report/renderers.js';
import { SAMPLE_OPTION_HELP } from './sample-options.js';
import { SCALE_OPTION_HELP } from './scale-options.js';
import { runShard } from './shard-command.js';
import { runSuspect } from './suspect-command.js';
import { MIN_PARENTS } from './suspect-options.js';
import { thresholdHelp } from './threshold-options.js';

export const USAGE_HINT = "Run 'provcheck <command> --help' for usage and examples.";

const SUSPECT_EXAMPLES = `
Examples:
  Is merged/ a blend of two fine-tunes of one base?
    $ provcheck suspect merged/ --parents tune-a/ tune-b/

  The same, diffs taken against the base, attention only, report kept as JSON, and a
  CI gate that fails (exit 1) when the model verdict is a blend of any kind:
    $ provcheck suspect merged/ --parents base/ tune-a/ tune-b/ --base base/ \\
        --include 'self_attn' --format json --output report.json \\
        --fail-on blend,modified-blend

  An upload gate: fail when the weights are a merge the model card does not declare,
  and leave a Markdown summary for the reviewer:
    $ provcheck suspect upload/ --parents base/ tune-a/ --format markdown \\
        --output summary.md --fail-on undisclosed-merge

Exit codes: 0 done, no --fail-on kind found; 1 the verdict is a --fail-on kind;
2 bad command line or malformed input; 3 read failure or internal error.
Verdict kinds: ${VERDICT_KINDS.join(', ')}
(what each means: docs/verdicts.md); --fail-on also takes undisclosed-merge.`;

const REPRODUCE_EXAMPLES = `
Examples:
  $ provcheck suspect merged/ --parents a/ b/ --format json --output report.json
  $ provcheck reproduce report.json                  # later, or on another machine
  $ provcheck reproduce report.json --output again.json

Inputs are the paths the report records, as typed, from the current folder; a Hub
repo is read at the commit the report recorded (org/name@<sha>), with the same Hub
settings as suspect (--offline, --token-file, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_ENDPOINT).
The result matches when the verdict, its parent, every tensor's kind, and every
weight and residual agree to 6 significant digits (1e-6 × max(1, |x|)).
Exit codes: 0 matches; 1 differs; 2 bad report or command line; 3 read failure.`;

const MERGE_EXAMPLES = `
Examples:
  Split a scan over 4 machines (or jobs), then combine (docs/distributed.md):
    $ provcheck suspect merged/ --parents a/ b/ --shard 1/4 --output part-1.json   # … 4/4
    $ provcheck merge part-*.json --format json --output report.json`;

const INSPECT_EXAMPLES = `
Examples:
  $ provcheck inspect model.safetensors
  $ provcheck inspect llama-3-8b/ --all          # one row per tensor, no grouping
  $ provcheck inspect llama-3-8b/ --format json  # files, dtypes and every tensor`;

/**
 * The commander program. Actions report what happened through `onOutcome`; errors
 * propagate out of parseAsync to run-cli.ts, which owns printing and exit codes.
 */
export function buildProgram(
  deps: CliDependencies,
  command: readonly string[],
  onOutcome: (outcome: RunOutcome, failOn: readonly FailOnKind[]) => void,
): Command {
  const program = new Command()
    .name('provcheck')
    .description("Tells whether a model's weights are a blend of other models' weights.")
    .version(deps.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError(USAGE_HINT)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => deps.stdout.write(text),
      writeErr: (text) => deps.stderr.write(text),
      outputError: (text, write) => write(`provcheck: ${text.replace(/^error: /, '')}`),
    });

  program
    .command('suspect')
    .description(
      'Fit the suspect as a blend of the parents, tensor by tensor, and judge what it is: ' +
        VERDICT_KINDS.join(', '),
    )
    .argument('<suspect>', 'model to examine: a .safetensors file, a folder of shards, or a Hub repo (org/name[@revision])')
    .requiredOption('--parents <models...>', `candidate parents (at least ${MIN_PARENTS}; a blend needs 2), after the suspect`)
    .option('--base <model>', 'the parent to take differences against (default: the first parent)')
    .option('--format <format>', 'text, json, markdown (GitHub) or html (one self-contained file)', 'text')
    .option('--output <file>', 'write the report to this file (atomically); stdout gets the verdict line')
    .option('--force', 'let --output replace an existing file')
    .option('--fail-on <kinds...>', 'exit 1 when the model verdict is one of these kinds, or on undisclosed-merge (comma-separated)')
    .option('--include <regex...>', 'analyse only tensors whose name matches one of these')
    .option('--exclude <regex...>', 'leave out tensors whose name matches one of these')
    .option('--map <rule...>', READ_OPTION_HELP.map)
    .option('--floor <which>', READ_OPTION_HELP.floor)
    .option('--no-recipes', READ_OPTION_HELP.recipes)
    .option('--blend-max-noise <x>', thresholdHelp('blendMaxNoise'))
    .option('--min-weight <x>', thresholdHelp('minWeight'))
    .option('--modified-min-weight <x>', thresholdHelp('modifiedMinWeight'))
    .option('--unrelated-residual <x>', thresholdHelp('unrelatedResidual'))
    .option('--informative-ulps <n>', thresholdHelp('informativeUlps'))
    .option('--agreement <x>', thresholdHelp('agreement'))
    .option('--quiet', 'no progress line; with --output, nothing on stdout')
    .option('--no-color', 'never colour the output (default: colour on a terminal)')
    .option('--offline', HUB_OPTION_HELP.offline)
    .option('--token-file <file>', HUB_OPTION_HELP.tokenFile)
    .option('--threads <n>', SCALE_OPTION_HELP.threads)
    .option('--shard <i/N>', SCALE_OPTION_HELP.shard)
    .option('--checkpoint <file>', SCALE_OPTION_HELP.checkpoint)
    .option('--sample <size>', SAMPLE_OPTION_HELP.sample)
    .option('--seed <n>', SAMPLE_OPTION_HELP.seed)
    .option('--confidence <level>', SAMPLE_OPTION_HELP.confidence)
    .option('--sample-budget <size>', SAMPLE_OPTION_HELP.sampleBudget)
    .option('--sample-block <elements>', SAMPLE_OPTION_HELP.sampleBlock)
    .option('--debug', 'show the full stack of an unexpected error')
    .addHelpText('after', SUSPECT_EXAMPLES + HUB_ENVIRONMENT_HELP)
    .action(async (suspect, options) => {
      if (options.shard !== undefined) {
        await runShard(suspect, options, command, deps);
        onOutcome({ kind: 'done' }, []);
        return;
      }
      const { report, failOn } = await runSuspect(suspect, options, command, deps);
      onOutcome({ kind: 'report', report }, failOn);
    });

  program
    .command('merge')
    .description('Combine the partial reports of every --shard of one run into the report a single run gives')
    .argument('<partials...>', 'the files written by provcheck suspect … --shard i/N --output <file>, one per shard')
    .option('--format <format>', `report format: ${OUTPUT_FORMATS.join(', ')}`, 'text')
    .option('--output <file>', 'write the report to this file (atomically); stdout gets the verdict line')
    .option('--force', 'let --output replace an existing file')
    .option('--fail-on <kinds...>', 'exit 1 when the model verdict is one of these kinds (comma-separated)')
    .option('--quiet', 'with --output, nothing on stdout')
    .option('--no-color', 'never colour the output (default: colour on a terminal)')
    .option('--debug', 'show the full stack of an unexpected error')
    .addHelpText('after', MERGE_EXAMPLES)
    .action(async (partials, options) => {
      const { report, failOn } = await runMerge(partials, options, command, deps);
      onOutcome({ kind: 'report', report }, failOn);
    });

  program
    .command('reproduce')
    .description('Run the analysis a JSON report records again, and say whether the result matches')
    .argument('<report>', 'a report written by provcheck suspect --format json')
    .option('--output <file>', 'write the new report here as JSON (atomically)')
    .option('--force', 'let --output replace an existing file')
    .option('--quiet', 'no progress line and no output; the exit code says it all')
    .option('--no-color', 'never colour the output (default: colour on a terminal)')
    .option('--offline', HUB_OPTION_HELP.offline)
    .option('--token-file <file>', HUB_OPTION_HELP.tokenFile)
    .option('--debug', 'show the full stack of an unexpected error')
    .addHelpText('after', REPRODUCE_EXAMPLES)
    .action(async (report, options) => {
      const result = await runReproduce(report, options, command, deps);
      onOutcome({ kind: 'reproduce', matches: result.matches }, []);
    });

  program
    .command('inspect')
    .description('List what a model holds (files, dtypes, tensors) from its headers')
    .argument('<model>', 'a .safetensors file, a folder of shards, or a Hub repo (org/name[@revision]; only headers are fetched)')
    .option('--format <format>', 'text or json', 'text')
    .option('--all', 'list every tensor (the text table groups numbered layers otherwise)')
    .option('--no-color', 'never colour the output (default: colour on a terminal)')
    .option('--offline', HUB_OPTION_HELP.offline)
    .option('--token-file <file>', HUB_OPTION_HELP.tokenFile)
    .option('--debug', 'show the full stack of an unexpected error')
    .addHelpText('after', INSPECT_EXAMPLES + HUB_ENVIRONMENT_HELP)
    .action(async (model, options) => {
      await runInspect(model, options, deps);
      onOutcome({ kind: 'done' }, []);
    });

  return program;
}
