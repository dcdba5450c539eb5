using System.Net;
using System.Text;
using System.Text.Json;
using IngestCluster.Admin.Contracts;

namespace IngestCluster.Cli.Tests;

/// <summary><c>ingestctl budget show</c> and <c>set-limit</c> against a scripted admin API.</summary>
public sealed class BudgetCommandTests
{
    private static readonly DateTimeOffset Until = new(2026, 12, 2, 17, 5, 30, TimeSpan.Zero);

    private static readonly BudgetView TwoAdmittedOneBlocked = new("10Mbps", 10_000_000, "settings", "8Mbps", 8_000_000,
        [
            new BudgetAdmittedView("198.51.100.12", "232.1.1.1", 4_000_000, 196_000_000, 50, "default"),
            new BudgetAdmittedView("198.51.100.12", "232.1.1.2", 4_000_000, 76_000_000, 20, "cbacc"),
        ],
        [new BudgetBlockedView("198.51.100.12", "232.1.1.3", Until, "OverLimit", "4Mbps more would pass the limit of 10Mbps", 1)],
        [new BudgetPendingView("198.51.100.13", "232.1.1.9", Until.AddMinutes(-1))],
        ["joinfile@n1"]);

    private sealed class ScriptedApi(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        public List<(HttpMethod Method, string Uri, string? Body)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            string? body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
            Requests.Add((request.Method, request.RequestUri!.ToString(), body));
            return answer(request);
        }
    }

    private static HttpResponseMessage Json<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(JsonSerializer.Serialize(value, type), Encoding.UTF8, "application/json") };

    private static Task<(int Exit, string Out, string Error)> Run(HttpMessageHandler api, params string[] args) =>
        CapturedRun.RunAsync(args, _ => null, api);

    [Fact]
    public async Task Budget_show_prints_the_limit_its_origin_used_and_each_flow_with_its_numbers()
    {
        var api = new ScriptedApi(_ => Json(TwoAdmittedOneBlocked, AdminJson.Default.BudgetView));
        var (exit, output, error) = await Run(api, "budget", "show");

        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Equal("http://127.0.0.1:9110/budget", Assert.Single(api.Requests).Uri);
        var lines = output.Split('\n');
        Assert.Contains("limit: 10Mbps (from settings)", lines);
        Assert.Contains("used:  8Mbps", lines);
        Assert.Contains(lines, l => l.Contains("232.1.1.1", StringComparison.Ordinal) && l.Contains("4Mbps", StringComparison.Ordinal)
            && l.Contains("196Mbps", StringComparison.Ordinal) && l.Contains(" 50 ", StringComparison.Ordinal) && l.Contains("default", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("232.1.1.2", StringComparison.Ordinal) && l.Contains("76Mbps", StringComparison.Ordinal) && l.Contains("cbacc", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("232.1.1.3", StringComparison.Ordinal) && l.Contains("OverLimit", StringComparison.Ordinal)
            && l.Contains("2026-12-02 17:05:30Z", StringComparison.Ordinal) && l.Contains("would pass the limit", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("232.1.1.9", StringComparison.Ordinal) && l.Contains("2026-12-02 17:04:30Z", StringComparison.Ordinal));
        Assert.Contains("2 admitted flow(s)", output, StringComparison.Ordinal);
        Assert.Contains("1 blocked flow(s)", output, StringComparison.Ordinal);
        Assert.Contains("1 pending flow(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Budget_show_without_a_limit_says_none()
    {
        var none = new BudgetView(null, null, "none", "0bps", 0, [], [], [], []);
        var (exit, output, _) = await Run(new ScriptedApi(_ => Json(none, AdminJson.Default.BudgetView)), "budget", "show");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("limit: none (every flow is admitted) (from none)", output, StringComparison.Ordinal);
        Assert.Contains("0 admitted flow(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Budget_show_json_is_the_contracts_record()
    {
        var (exit, output, _) = await Run(new ScriptedApi(_ => Json(TwoAdmittedOneBlocked, AdminJson.Default.BudgetView)), "budget", "show", "-o", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        var back = JsonSerializer.Deserialize(output, AdminJson.Default.BudgetView)!;
        Assert.Equal(TwoAdmittedOneBlocked.Admitted, back.Admitted);
        Assert.Equal(TwoAdmittedOneBlocked.Blocked, back.Blocked);
        Assert.Equal((10_000_000L, "settings"), (back.LimitBitsPerSecond!.Value, back.LimitFrom));
    }

    [Fact]
    public async Task Set_limit_posts_the_rate_and_settings_posts_a_null_limit()
    {
        var api = new ScriptedApi(_ => Json(TwoAdmittedOneBlocked with { LimitFrom = "admin" }, AdminJson.Default.BudgetView));
        var (exit, output, error) = await Run(api, "budget", "set-limit", "2Gbps");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Contains("(from admin)", output, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Ok, (await Run(api, "budget", "set-limit", "settings")).Exit);

        Assert.All(api.Requests, r => Assert.Equal((HttpMethod.Post, "http://127.0.0.1:9110/budget/limit"), (r.Method, r.Uri)));
        Assert.Equal(new BudgetLimitRequest("2Gbps"), JsonSerializer.Deserialize(api.Requests[0].Body!, AdminJson.Default.BudgetLimitRequest));
        Assert.Equal(new BudgetLimitRequest(null), JsonSerializer.Deserialize(api.Requests[1].Body!, AdminJson.Default.BudgetLimitRequest));
    }

    [Fact]
    public async Task A_rate_the_node_refuses_exits_2_with_the_nodes_message()
    {
        var api = new ScriptedApi(_ => Json(new AdminError("budget: limit '2Gigabits': expected a bitrate with its unit (bps, kbps, Mbps, Gbps), for example 500Mbps"),
            AdminJson.Default.AdminError, HttpStatusCode.BadRequest));
        var (exit, output, error) = await Run(api, "budget", "set-limit", "2Gigabits");
        Assert.Equal(ExitCodes.BadArgument, exit);
        Assert.Empty(output);
        Assert.Contains("refused: budget: limit '2Gigabits': expected a bitrate with its unit", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("budget", "set-limit")] // the rate is missing
    [InlineData("budget", "set-limit", " ")]
    [InlineData("budget", "set-limit", "1Gbps", "2Gbps")]
    [InlineData("budget", "explode")]
    public async Task A_bad_budget_command_line_exits_2_and_asks_nothing(params string[] args)
    {
        var api = new ScriptedApi(_ => throw new InvalidOperationException("must not be asked"));
        var (exit, _, error) = await Run(api, args);
        Assert.Equal(ExitCodes.BadArgument, exit);
        Assert.StartsWith("ingestctl: ", error, StringComparison.Ordinal);
        Assert.Empty(api.Requests);
    }

    [Theory]
    [InlineData(0, "0bps")]
    [InlineData(1001, "1001bps")]
    [InlineData(64_000, "64kbps")]
    [InlineData(1_500_000_000, "1500Mbps")]
    [InlineData(2_000_000_000, "2Gbps")]
    public void Rates_are_written_in_the_largest_exact_unit(long bitsPerSecond, string expected) =>
        Assert.Equal(expected, BudgetCommands.Rate(bitsPerSecond));
}
