using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IngestCluster.Admin.Contracts;

namespace IngestCluster.Cli.Tests;

/// <summary>ingestctl's command line, requests and exit codes, against a scripted admin API.</summary>
public sealed class IngestCtlTests
{
    private static readonly ClusterView ThreeMembers = new("akka.tcp://ingest@10.0.0.1:4053", "Up", "akka.tcp://ingest@10.0.0.1:4053",
    [
        new MemberView("akka.tcp://ingest@10.0.0.1:4053", "Up", ["ingest", "sources"], true),
        new MemberView("akka.tcp://ingest@10.0.0.2:4053", "Up", ["ingest", "sources"], true),
        new MemberView("akka.tcp://ingest@10.0.0.3:4053", "Up", ["ingest"], false),
    ]);

    /// <summary>Answers each request with <paramref name="answer"/> and keeps what was asked.</summary>
    private sealed class ScriptedApi(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<(HttpMethod Method, string Uri, string? Authorization, string? Body)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            string? body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
            Requests.Add((request.Method, request.RequestUri!.ToString(), request.Headers.Authorization?.ToString(), body));
            return answer(request);
        }
    }

    private static HttpResponseMessage Json<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(value, type), Encoding.UTF8, "application/json") };

    private static HttpResponseMessage Error(HttpStatusCode status, string error) => Json(new AdminError(error), AdminJson.Default.AdminError, status);

    private static Task<(int Exit, string Out, string Error)> Run(HttpMessageHandler? api, string[] args, string? envToken = null) =>
        CapturedRun.RunAsync(args, name => name == IngestCtl.TokenVariable ? envToken : null, api);

    [Fact]
    public async Task Cluster_show_prints_a_line_per_member_then_the_count_and_asks_the_node_named_first()
    {
        var api = new ScriptedApi(_ => Json(ThreeMembers, AdminJson.Default.ClusterView));
        var (exit, output, error) = await Run(api, ["10.0.0.1:9110", "cluster", "show"]);

        Assert.True(exit == ExitCodes.Ok, error);
        var (method, uri, _, _) = Assert.Single(api.Requests);
        Assert.Equal(HttpMethod.Get, method);
        Assert.Equal("http://10.0.0.1:9110/api/cluster", uri);
        var lines = output.Split('\n');
        Assert.Contains(lines, l => l.Contains("akka.tcp://ingest@10.0.0.2:4053", StringComparison.Ordinal) && l.Contains("ingest,sources", StringComparison.Ordinal)
            && l.Contains("Up", StringComparison.Ordinal) && l.Contains(" reachable", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("akka.tcp://ingest@10.0.0.3:4053", StringComparison.Ordinal) && l.Contains("unreachable", StringComparison.Ordinal));
        Assert.Contains("3 member(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Node_option_and_default_node_and_a_bare_host_take_port_9110()
    {
        var api = new ScriptedApi(_ => Json(ThreeMembers, AdminJson.Default.ClusterView));
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["cluster", "leader", "--node", "ingest-1.example"])).Exit);
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["cluster", "status"])).Exit);
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["-n", "10.0.0.2:19110", "cluster", "status"])).Exit);
        Assert.Equal(["http://ingest-1.example:9110/api/cluster", "http://127.0.0.1:9110/api/cluster", "http://10.0.0.2:19110/api/cluster"],
            api.Requests.Select(r => r.Uri));
    }

    [Fact]
    public async Task Json_output_is_the_contracts_record()
    {
        var api = new ScriptedApi(_ => Json(ThreeMembers, AdminJson.Default.ClusterView));
        var (exit, output, _) = await Run(api, ["cluster", "show", "--output", "json"]);
        Assert.Equal(ExitCodes.Ok, exit);
        var back = System.Text.Json.JsonSerializer.Deserialize(output, AdminJson.Default.ClusterView)!;
        Assert.Equal(ThreeMembers.Members.Select(m => m.Address), back.Members.Select(m => m.Address));
    }

    [Fact]
    public async Task The_token_comes_from_the_option_or_else_from_INGESTCTL_TOKEN()
    {
        var api = new ScriptedApi(_ => Json(ThreeMembers, AdminJson.Default.ClusterView));
        await Run(api, ["cluster", "show"], envToken: "from-env");
        await Run(api, ["cluster", "show", "--token", "from-option"], envToken: "from-env");
        await Run(api, ["cluster", "show"]);
        Assert.Equal(["Bearer from-env", "Bearer from-option", null], api.Requests.Select(r => r.Authorization));
    }

    [Fact]
    public async Task Down_and_join_send_the_address_and_down_unreachable_downs_only_the_unreachable()
    {
        var api = new ScriptedApi(r => r.Method == HttpMethod.Get
            ? Json(ThreeMembers, AdminJson.Default.ClusterView)
            : Json(new ClusterCommandResult("down", "akka.tcp://ingest@10.0.0.3:4053", "marked down"), AdminJson.Default.ClusterCommandResult, HttpStatusCode.Accepted));
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["cluster", "down", "-a", "akka.tcp://ingest@10.0.0.3:4053"])).Exit);
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["cluster", "join", "--address", "akka.tcp://ingest@10.0.0.9:4053"])).Exit);
        var (exit, output, _) = await Run(api, ["cluster", "down-unreachable"]);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("1 unreachable member(s) marked down", output, StringComparison.Ordinal);

        var posts = api.Requests.Where(r => r.Method == HttpMethod.Post).ToList();
        Assert.Equal(["http://127.0.0.1:9110/api/cluster/down", "http://127.0.0.1:9110/api/cluster/join", "http://127.0.0.1:9110/api/cluster/down"], posts.Select(p => p.Uri));
        Assert.Contains("akka.tcp://ingest@10.0.0.3:4053", posts[0].Body, StringComparison.Ordinal);
        Assert.Contains("akka.tcp://ingest@10.0.0.9:4053", posts[1].Body, StringComparison.Ordinal);
        Assert.Contains("akka.tcp://ingest@10.0.0.3:4053", posts[2].Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cluster", "down")] // -a is required
    [InlineData("cluster", "join")]
    [InlineData("cluster", "explode")] // no such command
    [InlineData("cluster", "show", "--output", "yaml")]
    [InlineData("actor", "hierarchy", "-d", "0")]
    [InlineData("cluster-sharding", "region-stats")] // -r is required
    [InlineData("relay", "override", "add", "10.0.0.0/8")] // the relay is missing
    [InlineData("cluster", "show", "--timeout", "0")]
    [InlineData("not a host:port:x", "cluster", "show")]
    public async Task A_bad_command_line_exits_2_and_asks_nothing(params string[] args)
    {
        var api = new ScriptedApi(_ => throw new InvalidOperationException("must not be asked"));
        var (exit, _, error) = await Run(api, args);
        Assert.Equal(ExitCodes.BadArgument, exit);
        Assert.StartsWith("ingestctl: ", error, StringComparison.Ordinal);
        Assert.Empty(api.Requests);
    }

    [Fact]
    public async Task Answers_map_to_distinct_exit_codes()
    {
        Assert.Equal(ExitCodes.Unauthorized, (await Run(new ScriptedApi(_ => Error(HttpStatusCode.Unauthorized, "missing or wrong bearer token")), ["cluster", "show"])).Exit);
        Assert.Equal(ExitCodes.Unauthorized, (await Run(new ScriptedApi(_ => Error(HttpStatusCode.Forbidden, "no")), ["cluster", "show"])).Exit);
        Assert.Equal(ExitCodes.NotFound, (await Run(new ScriptedApi(_ => Error(HttpStatusCode.NotFound, "no shard region of type 'x'")), ["cluster-sharding", "region-stats", "-r", "x"])).Exit);
        Assert.Equal(ExitCodes.BadArgument, (await Run(new ScriptedApi(_ => Error(HttpStatusCode.BadRequest, "'x' is not a prefix")), ["relay", "override", "add", "x", "y"])).Exit);
        Assert.Equal(ExitCodes.NodeError, (await Run(new ScriptedApi(_ => new HttpResponseMessage(HttpStatusCode.InternalServerError)), ["ingest", "flows"])).Exit);
        Assert.Equal(ExitCodes.Failed, (await Run(new ScriptedApi(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>") }), ["cluster", "show"])).Exit);
        var (exit, _, error) = await Run(new ScriptedApi(_ => Error(HttpStatusCode.Unauthorized, "missing or wrong bearer token")), ["cluster", "show", "--token", "hunter2"]);
        Assert.Equal(ExitCodes.Unauthorized, exit);
        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_filter_that_matches_no_flow_exits_with_not_found()
    {
        var flows = new FlowsView("n1", [new FlowView("198.51.100.1", "232.1.1.1", "Tunnelling", "n1", 1, 2, 0)], null);
        var api = new ScriptedApi(_ => Json(flows, AdminJson.Default.FlowsView));
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["ingest", "flows", "-s", "198.51.100.1"])).Exit);
        var (exit, _, error) = await Run(api, ["ingest", "flows", "--source", "198.51.100.99"]);
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Contains("198.51.100.99", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_refuses_the_connection_is_unreachable()
    {
        // A port that was just free and is closed again: the connection is refused.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var (exit, _, error) = await Run(null, [$"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "cluster", "show"]);
        Assert.Equal(ExitCodes.Unreachable, exit);
        Assert.Contains("no answer", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_override_commands_use_the_overrides_resource()
    {
        var view = new RelayOverridesView("n1", false, [new RelayOverrideView("162.250.136.0/22", "amt-relay.m2icast.net", "192.0.2.1:2268", false)]);
        var api = new ScriptedApi(_ => Json(view, AdminJson.Default.RelayOverridesView));
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["relay", "override", "add", "162.250.136.0/22", "amt-relay.m2icast.net"])).Exit);
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["relay", "override", "remove", "162.250.136.0/22"])).Exit);
        var (exit, output, _) = await Run(api, ["relay", "override", "list"]);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("amt-relay.m2icast.net", output, StringComparison.Ordinal);
        Assert.Equal([HttpMethod.Post, HttpMethod.Delete, HttpMethod.Get], api.Requests.Select(r => r.Method));
        Assert.Equal("http://127.0.0.1:9110/api/relay-overrides?prefix=162.250.136.0%2F22", api.Requests[1].Uri);
        Assert.Equal(new RelayOverrideRequest("162.250.136.0/22", "amt-relay.m2icast.net"),
            System.Text.Json.JsonSerializer.Deserialize(api.Requests[0].Body!, AdminJson.Default.RelayOverrideRequest));
    }

    [Fact]
    public async Task Log_level_shows_without_an_argument_and_sets_with_one()
    {
        var api = new ScriptedApi(_ => Json(new LogLevelView("Debug"), AdminJson.Default.LogLevelView));
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["log", "level"])).Exit);
        Assert.Equal(ExitCodes.Ok, (await Run(api, ["log", "level", "debug"])).Exit);
        Assert.Equal([HttpMethod.Get, HttpMethod.Put], api.Requests.Select(r => r.Method));
        Assert.Contains("debug", api.Requests[1].Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_tail_prints_only_new_events_and_a_stop_ends_it_with_exit_0()
    {
        using var stop = new CancellationTokenSource();
        var at = DateTimeOffset.Parse("2026-12-02T07:01:07Z", CultureInfo.InvariantCulture);
        int calls = 0;
        var api = new ScriptedApi(r =>
        {
            calls++;
            if (calls == 3)
            {
                stop.Cancel();
            }
            return r.RequestUri!.Query switch
            {
                "?after=0" => Json(new ClusterEventsView(2, [new ClusterEventView(1, at, "MemberUp", "akka.tcp://ingest@10.0.0.1:4053", "Up"),
                    new ClusterEventView(2, at, "MemberJoined", "akka.tcp://ingest@10.0.0.2:4053", "Joining")]), AdminJson.Default.ClusterEventsView),
                "?after=2" => Json(new ClusterEventsView(3, [new ClusterEventView(3, at.AddSeconds(1), "MemberUp", "akka.tcp://ingest@10.0.0.2:4053", "Up")]), AdminJson.Default.ClusterEventsView),
                _ => Json(new ClusterEventsView(3, []), AdminJson.Default.ClusterEventsView),
            };
        });
        var (exit, output, _) = await CapturedRun.RunAsync(["cluster", "tail"], _ => null, api, stop.Token);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal(["?after=0", "?after=2", "?after=3"], api.Requests.Select(q => new Uri(q.Uri).Query));
        Assert.Equal(["07:01:07.000 MemberUp akka.tcp://ingest@10.0.0.1:4053 Up", "07:01:07.000 MemberJoined akka.tcp://ingest@10.0.0.2:4053 Joining",
            "07:01:08.000 MemberUp akka.tcp://ingest@10.0.0.2:4053 Up"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
