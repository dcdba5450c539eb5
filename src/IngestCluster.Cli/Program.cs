using IngestCluster.Cli;
using Spectre.Console;

// ingestctl [host:port] <palette> <command> [options]; exit codes: ExitCodes (docs/operations.md).
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};
return await IngestCtl.RunAsync(args, AnsiConsole.Console, Console.Error, cancellation: cancellation.Token);
