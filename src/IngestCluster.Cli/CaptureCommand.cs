using System.CommandLine;
using System.Globalization;
using IngestCluster.Admin.Contracts;
using Spectre.Console;

namespace IngestCluster.Cli;

/// <summary>
/// <c>ingestctl capture -i IF -s S -f pim|amt|data [-o file.pcap]</c>: the node captures on its own interface (it,
/// not ingestctl's host, sees the LAN) and sends the pcap back; ingestctl writes it to the file. The node caps the
/// time (60 s) and the size (<c>Admin:Capture:MaxBytes</c>).
/// </summary>
internal static class CaptureCommand
{
    public const int MaxSeconds = 60;

    public static Command Build(Option<string> node, Option<string?> token, Option<int> timeout, IAnsiConsole output, HttpMessageHandler? handler,
        Func<string, string?> environment)
    {
        var networkInterface = new Option<string>("--interface", "-i") { Description = "the node's interface to capture on, e.g. eth1 or lo", Required = true };
        var seconds = new Option<int>("--seconds", "-s") { Description = $"how long, 1 to {MaxSeconds} (default 5)", DefaultValueFactory = _ => 5 };
        seconds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > MaxSeconds)
            {
                r.AddError($"--seconds must be from 1 to {MaxSeconds}");
            }
        });
        var filter = new Option<string>("--filter", "-f")
        {
            Description = "pim (ip proto 103), amt (udp port 2268) or data (multicast UDP, not AMT)",
            Required = true,
        };
        filter.AcceptOnlyFromAmong("pim", "amt", "data");
        var file = new Option<string?>("--output", "-o") { Description = "the pcap file to write (default capture-<interface>-<filter>-<time>.pcap)" };

        var command = new Command("capture", "capture packets on one of the node's interfaces into a pcap file (read it with tshark -r)")
        {
            networkInterface, seconds, filter, file,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var request = new CaptureRequest(parse.GetValue(networkInterface)!, parse.GetValue(seconds), parse.GetValue(filter)!);
            string path = parse.GetValue(file)
                ?? $"capture-{request.Interface}-{request.Filter}-{DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}.pcap";
            // The node answers only when the capture ends: wait for that, and the usual margin on top.
            var wait = TimeSpan.FromSeconds(Math.Max(parse.GetValue(timeout), request.Seconds + 15));
            using var client = new AdminClient(parse.GetValue(node) ?? IngestCtl.DefaultNode, parse.GetValue(token) ?? environment(IngestCtl.TokenVariable),
                wait, handler);
            return await Run(client, request, path, output, cancellation);
        });
        return command;
    }

    private static async Task<int> Run(AdminClient client, CaptureRequest request, string path, IAnsiConsole output, CancellationToken cancellation)
    {
        var (pcap, headers) = await client.PostForFileAsync(AdminRoutes.Capture, request, AdminJson.Default.CaptureRequest, cancellation);
        if (pcap.Length < 24)
        {
            throw new CliException(ExitCodes.Failed, $"the node's answer is {pcap.Length} bytes, not a pcap file");
        }
        try
        {
            await File.WriteAllBytesAsync(path, pcap, cancellation);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.BadArgument, $"cannot write {path}: {e.Message}");
        }
        string packets = headers.TryGetValues("X-Capture-Packets", out var p) ? p.First() : "?";
        string ended = headers.TryGetValues("X-Capture-Ended", out var e2) ? e2.First() : "?";
        string reason = ended switch
        {
            "size" => "stopped at the node's size cap",
            "time" => $"after {request.Seconds.ToString(CultureInfo.InvariantCulture)} s",
            _ => $"ended: {ended}",
        };
        output.Profile.Out.Writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{path}: {packets} packet(s), {pcap.Length:N0} bytes, {request.Filter} on {request.Interface}, {reason}"));
        return ExitCodes.Ok;
    }
}
