using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using IngestCluster.Admin.Contracts;
using IngestCluster.Cli;
using IngestCluster.IntegrationTests.Cluster;
using IngestCluster.Node.Sources;
using Microsoft.Extensions.DependencyInjection;

namespace IngestCluster.IntegrationTests.Admin;

/// <summary>One whole node in this process: what the admin API keeps across a restart, and who it lets in.</summary>
public sealed class AdminApiNodeTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("icop-node-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_relay_override_added_with_ingestctl_survives_a_restart_and_is_used_by_the_sources_stage()
    {
        int clusterPort = InProcessNode.FreePort();
        int adminPort = InProcessNode.FreePort();
        var source = IPAddress.Parse("198.51.100.7");

        await using (var node = await AdminNode.Start(_directory, [], clusterPort, adminPort))
        {
            // A relay by DNS name (localhost resolves from /etc/hosts here) and one by address and port.
            var (exit, output, error) = await AdminNode.Ctl(node.AdminEndpoint, "relay", "override", "add", "198.51.100.0/24", "localhost");
            Assert.True(exit == ExitCodes.Ok, error);
            Assert.Contains("127.0.0.1:2268", output, StringComparison.Ordinal);
            (exit, _, error) = await AdminNode.Ctl(node.AdminEndpoint, "relay", "override", "add", "203.0.113.0/24", "192.0.2.9:3000");
            Assert.True(exit == ExitCodes.Ok, error);
            (exit, _, error) = await AdminNode.Ctl(node.AdminEndpoint, "relay", "override", "remove", "203.0.113.0/24");
            Assert.True(exit == ExitCodes.Ok, error);
            (exit, _, _) = await AdminNode.Ctl(node.AdminEndpoint, "relay", "override", "remove", "203.0.113.0/24");
            Assert.Equal(ExitCodes.NotFound, exit);
            (exit, _, _) = await AdminNode.Ctl(node.AdminEndpoint, "relay", "override", "add", "not-a-prefix", "localhost");
            Assert.Equal(ExitCodes.BadArgument, exit);
        }

        // The same data directory, a new process's worth of node: the override is back, and the table the source
        // entities consult has it.
        await using (var node = await AdminNode.Start(_directory, [], clusterPort, adminPort))
        {
            var (exit, json, error) = await AdminNode.Ctl(node.AdminEndpoint, "relay", "override", "list", "-o", "json");
            Assert.True(exit == ExitCodes.Ok, error);
            var overrides = System.Text.Json.JsonSerializer.Deserialize(json, AdminJson.Default.RelayOverridesView)!;
            var only = Assert.Single(overrides.Overrides);
            Assert.Equal(new RelayOverrideView("198.51.100.0/24", "localhost", "127.0.0.1:2268", FromSettings: false), only);

            var store = node.Services.GetRequiredService<RelayOverrideStore>();
            var settings = node.Services.GetRequiredService<IngestCluster.Node.Hosting.IngestSettings>();
            Assert.True(settings.Sources.Overrides.TryFind(source, out var relay));
            Assert.Equal(new IPEndPoint(IPAddress.Loopback, 2268), relay);
            Assert.Same(store.Current, settings.Sources.Overrides);
        }
    }

    [Fact]
    public async Task Off_loopback_every_resource_wants_the_bearer_token_and_a_wrong_one_gets_401()
    {
        var local = NonLoopbackAddress();
        int adminPort = InProcessNode.FreePort();
        const string token = "s3cret-token-for-the-test";
        await using var node = await AdminNode.Start(_directory, [], InProcessNode.FreePort(), adminPort, new Dictionary<string, string?>
        {
            ["Admin:Url"] = $"http://0.0.0.0:{adminPort.ToString(CultureInfo.InvariantCulture)}",
            ["Admin:Token"] = token,
        });
        string endpoint = $"{local}:{adminPort.ToString(CultureInfo.InvariantCulture)}";
        using var http = new HttpClient { BaseAddress = new Uri($"http://{endpoint}") };

        // No token, a wrong one (longer, shorter, same length), another scheme: 401, and the answer does not echo it.
        foreach (var header in new AuthenticationHeaderValue?[] { null, new("Bearer", token + "x"), new("Bearer", "s3cret"),
                     new("Bearer", token[..^1] + "X"), new("Basic", token) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, AdminRoutes.Cluster);
            request.Headers.Authorization = header;
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.DoesNotContain("s3cret", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var post = await http.PostAsync(AdminRoutes.ClusterLeave, null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        }
        Assert.False(node.Stopped);

        // The right token opens it; the probes and the page need none.
        using (var request = new HttpRequestMessage(HttpMethod.Get, AdminRoutes.Cluster))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using (var alive = await http.GetAsync(AdminRoutes.Alive))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }
        await InProcessNode.WaitUntil(() => http.GetAsync(AdminRoutes.Ready).Result.StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), () => "/ready once the node is Up");

        // ingestctl: exit code 4 without the token, 0 with it (as an option, or from INGESTCTL_TOKEN).
        var (exit, _, error) = await AdminNode.Ctl(endpoint, "cluster", "show");
        Assert.Equal(ExitCodes.Unauthorized, exit);
        Assert.Contains("unauthorized", error, StringComparison.Ordinal);
        (exit, _, error) = await AdminNode.Ctl(endpoint, "cluster", "show", "--token", token);
        Assert.True(exit == ExitCodes.Ok, error);
    }

    /// <summary>An IPv4 address of this machine that is not loopback: a request to it arrives from off loopback.</summary>
    private static IPAddress NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? throw new InvalidOperationException("this machine has no non-loopback IPv4 address to test the token over");
}
