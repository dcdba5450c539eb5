using IngestCluster.Cli;
using Spectre.Console;

// ingestctl [host:port] <palette> <command> [options]; exit codes: ExitCodes (docs/operations.md). Ctrl+C and SIGTERM
// cancel the command (System.CommandLine's process-termination handling), which ends `cluster tail` with exit 0.
var console = AnsiConsole.Console;
if (Console.IsOutputRedirected)
{
    // Into a file or a pipe: no terminal width to respect, so tables keep each row on one line.
    console.Profile.Width = 250;
}
return await IngestCtl.RunAsync(args, console, Console.Error);
