using System.Globalization;
using IngestCluster.Admin.Contracts;

namespace IngestCluster.Cli;

/// <summary>The budget palette: the cluster's bandwidth budget (its singleton answers through any node).</summary>
internal static class BudgetCommands
{
    public static async Task<int> Show(Invocation i)
    {
        var budget = await i.Client.GetAsync(AdminRoutes.Budget, AdminJson.Default.BudgetView, i.Cancellation);
        return i.Render(budget, AdminJson.Default.BudgetView, () => Print(i, budget));
    }

    /// <summary>Sets the run-time limit (persisted by the budget), or with <c>settings</c> hands it back to
    /// <c>Budget:Limit</c>. The node's parser judges the rate, so there is one grammar: a bad one comes back as a 400,
    /// which is exit code 2 with the node's sentence.</summary>
    public static async Task<int> SetLimit(Invocation i, string rate)
    {
        string text = rate.Trim();
        if (text.Length == 0)
        {
            throw new CliException(ExitCodes.BadArgument, "set-limit: give a bitrate with its unit (bps, kbps, Mbps, Gbps), e.g. 2Gbps, or 'settings'");
        }
        var request = new BudgetLimitRequest(string.Equals(text, "settings", StringComparison.OrdinalIgnoreCase) ? null : text);
        var budget = await i.Client.PostAsync(AdminRoutes.BudgetLimit, request, AdminJson.Default.BudgetLimitRequest,
            AdminJson.Default.BudgetView, i.Cancellation);
        return i.Render(budget, AdminJson.Default.BudgetView, () => Print(i, budget));
    }

    private static void Print(Invocation i, BudgetView budget)
    {
        i.Line($"limit: {budget.Limit ?? "none (every flow is admitted)"} (from {budget.LimitFrom})");
        i.Line($"used:  {budget.Used}");

        var admitted = Invocation.Table("source", "group", "bitrate", "offload", "population", "bitrate from");
        foreach (var a in budget.Admitted)
        {
            Rows.Add(admitted, a.Source, a.Group, Rate(a.BitsPerSecond), Rate(a.OffloadBitsPerSecond),
                a.Population.ToString(CultureInfo.InvariantCulture), a.BitrateFrom);
        }
        i.Line(string.Create(CultureInfo.InvariantCulture, $"{budget.Admitted.Count} admitted flow(s)"));
        if (budget.Admitted.Count > 0)
        {
            i.Write(admitted);
        }

        var blocked = Invocation.Table("source", "group", "reason", "held down until", "population", "detail");
        foreach (var b in budget.Blocked)
        {
            Rows.Add(blocked, b.Source, b.Group, b.Reason, b.Until.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                b.Population.ToString(CultureInfo.InvariantCulture), b.Detail);
        }
        i.Line(string.Create(CultureInfo.InvariantCulture, $"{budget.Blocked.Count} blocked flow(s)"));
        if (budget.Blocked.Count > 0)
        {
            i.Write(blocked);
        }

        var pending = Invocation.Table("source", "group", "waiting for metadata since");
        foreach (var p in budget.Pending)
        {
            Rows.Add(pending, p.Source, p.Group, p.Since.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }
        i.Line(string.Create(CultureInfo.InvariantCulture, $"{budget.Pending.Count} pending flow(s)"));
        if (budget.Pending.Count > 0)
        {
            i.Write(pending);
        }
    }

    /// <summary>A rate in bit/s in the unit the node writes limits in: the largest of Gbps, Mbps, kbps that divides it
    /// exactly (<c>4Mbps</c>, <c>1500kbps</c>, <c>1001bps</c>).</summary>
    public static string Rate(long bitsPerSecond)
    {
        foreach (var (suffix, factor) in new (string, long)[] { ("Gbps", 1_000_000_000), ("Mbps", 1_000_000), ("kbps", 1_000) })
        {
            if (bitsPerSecond != 0 && bitsPerSecond % factor == 0)
            {
                return (bitsPerSecond / factor).ToString(CultureInfo.InvariantCulture) + suffix;
            }
        }
        return bitsPerSecond.ToString(CultureInfo.InvariantCulture) + "bps";
    }
}
