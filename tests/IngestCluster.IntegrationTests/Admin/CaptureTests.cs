using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using IngestCluster.Admin.Contracts;
using IngestCluster.Cli;
using IngestCluster.IntegrationTests.Cluster;

namespace IngestCluster.IntegrationTests.Admin;

/// <summary>
/// <c>ingestctl capture</c> against a whole node over real HTTP: the node captures on loopback while this test sends
/// multicast UDP (the <c>data</c> kind) and unicast UDP to port 2268 (the <c>amt</c> kind) there, and tshark reads the
/// file ingestctl wrote. Needs root (libpcap), as the other integration tests do.
/// </summary>
public sealed class CaptureTests : IAsyncLifetime
{
    private static readonly IPAddress Group = IPAddress.Parse("239.160.0.7");
    private readonly string _directory = Directory.CreateTempSubdirectory("icop-capture-").FullName;
    private readonly int _dataPort = InProcessNode.FreePort();
    private AdminNode? _node;

    public async Task InitializeAsync() =>
        _node = await AdminNode.Start(_directory, [], InProcessNode.FreePort(), InProcessNode.FreePort());

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Sends a marked datagram to the group and one to 127.0.0.1:2268 every 20 ms until stopped, on its own
    /// thread, so a busy thread pool does not thin it out.</summary>
    private Thread StartSender(CancellationToken stop)
    {
        var thread = new Thread(() =>
        {
            using var multicast = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            multicast.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, IPAddress.Loopback.GetAddressBytes());
            using var amt = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            byte[] payload = Encoding.ASCII.GetBytes("icop-capture-test");
            while (!stop.IsCancellationRequested)
            {
                multicast.SendTo(payload, new IPEndPoint(Group, _dataPort));
                amt.SendTo(payload, new IPEndPoint(IPAddress.Loopback, 2268));
                stop.WaitHandle.WaitOne(20);
            }
        }) { IsBackground = true, Name = "capture-test-sender" };
        thread.Start();
        return thread;
    }

    /// <summary>Captures with ingestctl while the sender runs; the file's packets as tshark reads them: "dst dstport".</summary>
    private async Task<(string Out, List<string> Packets)> CaptureWhileSending(string filter, string file)
    {
        using var stop = new CancellationTokenSource();
        var sender = StartSender(stop.Token);
        (int Exit, string Out, string Error) run;
        try
        {
            run = await AdminNode.Ctl(_node!.AdminEndpoint, "capture", "--interface", "lo", "--seconds", "2", "--filter", filter, "-o", file);
        }
        finally
        {
            await stop.CancelAsync();
            sender.Join();
        }
        Assert.True(run.Exit == ExitCodes.Ok, $"exit {run.Exit}: {run.Error}");
        return (run.Out, Tshark(file));
    }

    private static List<string> Tshark(string file, params string[] fields)
    {
        fields = fields.Length == 0 ? ["ip.dst", "udp.dstport"] : fields;
        var start = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-r", file, "-T", "fields" }.Concat(fields.SelectMany(f => new[] { "-e", f })))
        {
            start.ArgumentList.Add(a);
        }
        using var tshark = Process.Start(start)!;
        string output = tshark.StandardOutput.ReadToEnd();
        string error = tshark.StandardError.ReadToEnd();
        if (!tshark.WaitForExit(30_000))
        {
            tshark.Kill();
            throw new TimeoutException("tshark -r did not end within 30 s");
        }
        Assert.True(tshark.ExitCode == 0, $"tshark -r {file}: exit {tshark.ExitCode}: {error}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim().Replace('\t', ' '))];
    }

    [Fact]
    public async Task A_data_capture_on_loopback_holds_the_multicast_datagrams_and_no_amt_ones()
    {
        string file = Path.Combine(_directory, "data.pcap");
        var (output, packets) = await CaptureWhileSending("data", file);

        string expected = $"{Group} {_dataPort.ToString(CultureInfo.InvariantCulture)}";
        // 2 s at one datagram per 20 ms: about 100; well over 10 even on a loaded machine.
        Assert.True(packets.Count(p => p == expected) >= 10, $"{packets.Count} packet(s): {string.Join(" | ", packets.Take(10))}");
        Assert.All(packets, p => Assert.Equal(expected, p));
        Assert.Contains($"{file}: {packets.Count.ToString(CultureInfo.InvariantCulture)} packet(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_amt_capture_holds_only_port_2268()
    {
        var (_, packets) = await CaptureWhileSending("amt", Path.Combine(_directory, "amt.pcap"));
        Assert.True(packets.Count(p => p == "127.0.0.1 2268") >= 10, $"{packets.Count} packet(s): {string.Join(" | ", packets.Take(10))}");
        Assert.All(packets, p => Assert.EndsWith(" 2268", p, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pim_capture_holds_the_hellos_sent_on_loopback_and_no_udp()
    {
        // PIM Hellos (our own codec's, holdtime 105 s, generation id 0x1cc0) from a raw socket to 127.0.0.1, every
        // 20 ms, with UDP besides that the filter must leave out.
        var hello = new IngestCluster.Protocols.Pim.PimHello { HoldtimeSeconds = 105, GenerationId = 0x1cc0 };
        // An IPv4 header by hand (the kernel fills in the total length and the checksum of an IPPROTO_RAW send):
        // version 4, IHL 5, TTL 1, protocol 103, 127.0.0.1 to 127.0.0.1.
        byte[] message = new byte[20 + hello.Length];
        message[0] = 0x45;
        message[8] = 1;
        message[9] = 103;
        IPAddress.Loopback.GetAddressBytes().CopyTo(message, 12);
        IPAddress.Loopback.GetAddressBytes().CopyTo(message, 16);
        hello.Write(message.AsSpan(20));
        using var stop = new CancellationTokenSource();
        var udp = StartSender(stop.Token);
        var pim = new Thread(() =>
        {
            using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Raw);
            while (!stop.IsCancellationRequested)
            {
                raw.SendTo(message, new IPEndPoint(IPAddress.Loopback, 0));
                stop.Token.WaitHandle.WaitOne(20);
            }
        }) { IsBackground = true, Name = "capture-test-pim" };
        pim.Start();
        string file = Path.Combine(_directory, "pim.pcap");
        (int Exit, string Out, string Error) run;
        try
        {
            run = await AdminNode.Ctl(_node!.AdminEndpoint, "capture", "-i", "lo", "-s", "2", "-f", "pim", "-o", file);
        }
        finally
        {
            await stop.CancelAsync();
            udp.Join();
            pim.Join();
        }
        Assert.True(run.Exit == ExitCodes.Ok, $"exit {run.Exit}: {run.Error}");

        // tshark decodes each as a PIMv2 Hello (type 0) with our holdtime.
        var packets = Tshark(file, "ip.proto", "pim.type", "pim.holdtime");
        Assert.True(packets.Count >= 10, $"{packets.Count} packet(s): {string.Join(" | ", packets.Take(10))}");
        Assert.All(packets, p => Assert.Equal("103 0 105", p));
    }

    [Fact]
    public async Task A_bad_interface_is_a_404_naming_it_and_bad_arguments_are_400s()
    {
        var (exit, _, error) = await AdminNode.Ctl(_node!.AdminEndpoint, "capture", "-i", "icop-nosuch0", "-s", "1", "-f", "pim",
            "-o", Path.Combine(_directory, "x.pcap"));
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Contains("no interface 'icop-nosuch0'", error, StringComparison.Ordinal);
        Assert.Contains("lo", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "x.pcap")));

        using var http = _node.Http();
        foreach (var (body, status, named) in new[]
                 {
                     ("{\"interface\":\"icop-nosuch0\",\"seconds\":1,\"filter\":\"pim\"}", HttpStatusCode.NotFound, "icop-nosuch0"),
                     ("{\"interface\":\"lo\",\"seconds\":61,\"filter\":\"pim\"}", HttpStatusCode.BadRequest, "seconds 61"),
                     ("{\"interface\":\"lo\",\"seconds\":1,\"filter\":\"tcp\"}", HttpStatusCode.BadRequest, "filter 'tcp'"),
                     ("not json", HttpStatusCode.BadRequest, "expected {"),
                 })
        {
            using var response = await http.PostAsync(AdminRoutes.Capture, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(status, response.StatusCode);
            var answer = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), AdminJson.Default.AdminError)!;
            Assert.Contains(named, answer.Error, StringComparison.Ordinal);
        }
    }
}
