using System.Net;
using System.Text;
using System.Text.Json;
using IngestCluster.Admin.Contracts;

namespace IngestCluster.Cli.Tests;

/// <summary><c>ingestctl capture</c> against a scripted admin API: what it asks, and the file it writes.</summary>
public sealed class CaptureCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ingestctl-capture-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private sealed class ScriptedApi(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<(string Uri, string? Body)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add((request.RequestUri!.ToString(), request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken)));
            return answer(request);
        }
    }

    /// <summary>A pcap file's global header (24 bytes) and one 4-byte packet.</summary>
    private static readonly byte[] Pcap = [.. new byte[] { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 }, .. new byte[16], .. new byte[] { 1, 2, 3, 4 }];

    [Fact]
    public async Task Capture_posts_the_request_and_writes_the_nodes_pcap_to_the_file()
    {
        var api = new ScriptedApi(_ =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(Pcap) };
            response.Headers.Add("X-Capture-Packets", "1");
            response.Headers.Add("X-Capture-Ended", "time");
            return response;
        });
        string file = Path.Combine(_directory, "pim.pcap");
        var (exit, output, error) = await CapturedRun.RunAsync(["10.0.0.1:9110", "capture", "-i", "eth1", "-s", "3", "-f", "pim", "-o", file], _ => null, api);

        Assert.True(exit == ExitCodes.Ok, error);
        var (uri, body) = Assert.Single(api.Requests);
        Assert.Equal("http://10.0.0.1:9110/api/capture", uri);
        Assert.Equal(new CaptureRequest("eth1", 3, "pim"), JsonSerializer.Deserialize(body!, AdminJson.Default.CaptureRequest));
        Assert.Equal(Pcap, await File.ReadAllBytesAsync(file));
        Assert.Contains($"{file}: 1 packet(s), 28 bytes, pim on eth1, after 3 s", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_refusal_writes_no_file_and_maps_to_its_exit_code()
    {
        var api = new ScriptedApi(_ => new HttpResponseMessage(HttpStatusCode.NotFound)
        {
            Content = new StringContent(JsonSerializer.Serialize(new AdminError("capture: no interface 'eth9' on this node to capture on; it has: eth0, lo"),
                AdminJson.Default.AdminError), Encoding.UTF8, "application/json"),
        });
        string file = Path.Combine(_directory, "none.pcap");
        var (exit, _, error) = await CapturedRun.RunAsync(["capture", "-i", "eth9", "-f", "data", "-o", file], _ => null, api);
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Contains("no interface 'eth9'", error, StringComparison.Ordinal);
        Assert.False(File.Exists(file));
    }

    [Theory]
    [InlineData("capture", "-i", "eth1", "-f", "pim", "-s", "61")]
    [InlineData("capture", "-i", "eth1", "-f", "pim", "-s", "0")]
    [InlineData("capture", "-i", "eth1", "-f", "tcp")]
    [InlineData("capture", "-f", "pim")] // the interface is required
    [InlineData("capture", "-i", "eth1")] // the filter is required
    public async Task A_bad_capture_command_line_exits_2_and_asks_nothing(params string[] args)
    {
        var api = new ScriptedApi(_ => throw new InvalidOperationException("must not be asked"));
        var (exit, _, error) = await CapturedRun.RunAsync(args, _ => null, api);
        Assert.Equal(ExitCodes.BadArgument, exit);
        Assert.StartsWith("ingestctl: ", error, StringComparison.Ordinal);
        Assert.Empty(api.Requests);
    }
}
