using System.Net;
using System.Text;
using System.Text.Json;
using IngestCluster.Admin.Contracts;
using IngestCluster.Cli;

namespace IngestCluster.IntegrationTests.Admin;

/// <summary>
/// <c>ingestctl budget</c> against a whole node over real HTTP: a joinfile demands three flows of 4 Mbit/s (the
/// settings' default bitrate) under a 10 Mbit/s limit, so two are admitted and one is blocked; the limit is raised,
/// read back, handed back to the settings, and a malformed body is refused with a 400 that names the problem.
/// </summary>
public sealed class BudgetCommandTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("icop-budget-").FullName;
    private AdminNode? _node;

    public async Task InitializeAsync() =>
        _node = await AdminNode.StartBudgeted(_directory, "198.51.100.12,232.1.1.1,50\n198.51.100.12,232.1.1.2,20\n198.51.100.12,232.1.1.3\n");

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<BudgetView> ShowJson()
    {
        var (exit, json, error) = await AdminNode.Ctl(_node!.AdminEndpoint, "budget", "show", "-o", "json");
        Assert.True(exit == ExitCodes.Ok, $"exit {exit}: {error}");
        return JsonSerializer.Deserialize(json, AdminJson.Default.BudgetView)!;
    }

    private async Task<BudgetView> WaitForBudget(Func<BudgetView, bool> condition, string what)
    {
        BudgetView? last = null;
        string lastError = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var (exit, json, error) = await AdminNode.Ctl(_node!.AdminEndpoint, "budget", "show", "-o", "json");
            if (exit == ExitCodes.Ok)
            {
                last = JsonSerializer.Deserialize(json, AdminJson.Default.BudgetView)!;
                if (condition(last))
                {
                    return last;
                }
            }
            lastError = error; // the singleton may still be starting (a 503): asked again
            await Task.Delay(200);
        }
        throw new TimeoutException($"{what}: not within 30 s; last budget: {(last is null ? lastError : JsonSerializer.Serialize(last, AdminJson.Default.BudgetView))}");
    }

    [Fact]
    public async Task Budget_show_reads_the_nodes_decisions_and_set_limit_changes_the_limit_and_hands_it_back()
    {
        var first = await WaitForBudget(b => b.Admitted.Count == 2 && b.Blocked.Count == 1, "two admitted, one blocked");
        Assert.Equal(("10Mbps", "settings", 8_000_000L), (first.Limit, first.LimitFrom, first.UsedBitsPerSecond));
        Assert.Equal(["232.1.1.1", "232.1.1.2"], first.Admitted.Select(a => a.Group).Order(StringComparer.Ordinal));
        var blocked = Assert.Single(first.Blocked);
        Assert.Equal(("232.1.1.3", "OverLimit"), (blocked.Group, blocked.Reason));
        Assert.True(blocked.Until > DateTimeOffset.UtcNow, $"held down until {blocked.Until}");

        // The table form shows the same, a line per flow.
        var (exit, table, error) = await AdminNode.Ctl(_node!.AdminEndpoint, "budget", "show");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Contains("limit: 10Mbps (from settings)", table, StringComparison.Ordinal);
        Assert.Contains(table.Split('\n'), l => l.Contains("232.1.1.3", StringComparison.Ordinal) && l.Contains("OverLimit", StringComparison.Ordinal));
        Assert.Contains(table.Split('\n'), l => l.Contains("232.1.1.1", StringComparison.Ordinal) && l.Contains("4Mbps", StringComparison.Ordinal)
            && l.Contains("196Mbps", StringComparison.Ordinal) && l.Contains(" 50 ", StringComparison.Ordinal));

        // Raise it: the answer and a fresh read both say 2Gbps from admin.
        (exit, var set, error) = await AdminNode.Ctl(_node.AdminEndpoint, "budget", "set-limit", "2Gbps");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Contains("limit: 2Gbps (from admin)", set, StringComparison.Ordinal);
        var raised = await ShowJson();
        Assert.Equal(("2Gbps", 2_000_000_000L, "admin"), (raised.Limit, raised.LimitBitsPerSecond, raised.LimitFrom));

        // A bad rate: exit 2 and the node's reason; the limit is unchanged.
        (exit, _, error) = await AdminNode.Ctl(_node.AdminEndpoint, "budget", "set-limit", "2Gigabits");
        Assert.Equal(ExitCodes.BadArgument, exit);
        Assert.Contains("2Gigabits", error, StringComparison.Ordinal);
        Assert.Contains("bps, kbps, Mbps, Gbps", error, StringComparison.Ordinal);
        Assert.Equal("2Gbps", (await ShowJson()).Limit);

        // Back to the settings.
        (exit, _, error) = await AdminNode.Ctl(_node.AdminEndpoint, "budget", "set-limit", "settings");
        Assert.True(exit == ExitCodes.Ok, error);
        var back = await ShowJson();
        Assert.Equal(("10Mbps", "settings"), (back.Limit, back.LimitFrom));
    }

    [Theory]
    [InlineData("{\"limit\": \"2Gbps\"", "not JSON")] // cut short
    [InlineData("{\"rate\": \"2Gbps\"}", "no \\\"limit\\\"")]
    [InlineData("12 Megabits", "12 Megabits")]
    [InlineData("1.5bps", "not a whole number")]
    public async Task A_malformed_limit_body_over_http_is_a_400_naming_the_problem(string body, string named)
    {
        await WaitForBudget(_ => true, "the budget answering");
        using var http = _node!.Http();
        using var response = await http.PostAsync(AdminRoutes.BudgetLimit, new StringContent(body, Encoding.UTF8, "text/plain"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonSerializer.Deserialize(text, AdminJson.Default.AdminError)!;
        Assert.StartsWith("budget: ", error.Error, StringComparison.Ordinal);
        Assert.Contains(named.Replace("\\\"", "\"", StringComparison.Ordinal), error.Error, StringComparison.Ordinal);
        Assert.Equal(("10Mbps", "settings"), ((await ShowJson()).Limit, (await ShowJson()).LimitFrom));
    }
}
