using System.Globalization;
using IngestCluster.Admin.Contracts;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace IngestCluster.Cli;

internal static class Rows
{
    /// <summary>Adds a row of plain text (no Spectre markup: addresses and roles contain brackets).</summary>
    public static void Add(Table table, params string?[] cells) =>
        table.AddRow([.. cells.Select(c => (IRenderable)new Text(c ?? "–"))]);
}

/// <summary>pbm's cluster palette.</summary>
internal static class ClusterCommands
{
    public static async Task<int> Show(Invocation i)
    {
        var cluster = await i.Client.GetAsync(AdminRoutes.Cluster, AdminJson.Default.ClusterView, i.Cancellation);
        return i.Render(cluster, AdminJson.Default.ClusterView, () =>
        {
            var table = Invocation.Table("address", "roles", "status", "reachability");
            foreach (var m in cluster.Members)
            {
                Rows.Add(table, m.Address, string.Join(",", m.Roles), m.Status, m.Reachable ? "reachable" : "unreachable");
            }
            i.Write(table);
            i.Line(string.Create(CultureInfo.InvariantCulture, $"{cluster.Members.Count} member(s)"));
        });
    }

    public static async Task<int> Status(Invocation i)
    {
        var cluster = await i.Client.GetAsync(AdminRoutes.Cluster, AdminJson.Default.ClusterView, i.Cancellation);
        return i.Render(cluster, AdminJson.Default.ClusterView, () => i.Line($"{cluster.Self} is {cluster.SelfStatus}"));
    }

    public static async Task<int> Leader(Invocation i)
    {
        var cluster = await i.Client.GetAsync(AdminRoutes.Cluster, AdminJson.Default.ClusterView, i.Cancellation);
        if (cluster.Leader is null)
        {
            throw new CliException(ExitCodes.NotFound, "the cluster has no leader now (no member is Up and reachable)");
        }
        return i.Render(cluster, AdminJson.Default.ClusterView, () => i.Line(cluster.Leader));
    }

    public static async Task<int> Unreachable(Invocation i)
    {
        var cluster = await i.Client.GetAsync(AdminRoutes.Cluster, AdminJson.Default.ClusterView, i.Cancellation);
        var unreachable = cluster.Members.Where(m => !m.Reachable).ToList();
        return i.Render(cluster with { Members = unreachable }, AdminJson.Default.ClusterView, () =>
        {
            foreach (var m in unreachable)
            {
                i.Line($"{m.Address} {m.Status}");
            }
            i.Line(string.Create(CultureInfo.InvariantCulture, $"{unreachable.Count} unreachable member(s)"));
        });
    }

    public static async Task<int> Leave(Invocation i, string? address)
    {
        var result = await i.Client.PostAsync(AdminRoutes.ClusterLeave, address is null ? null : new AddressRequest(address),
            AdminJson.Default.AddressRequest, AdminJson.Default.ClusterCommandResult, i.Cancellation);
        return i.Render(result, AdminJson.Default.ClusterCommandResult, () => i.Line($"{result.Address}: {result.Detail}"));
    }

    public static async Task<int> Down(Invocation i, string address)
    {
        var result = await i.Client.PostAsync(AdminRoutes.ClusterDown, new AddressRequest(address),
            AdminJson.Default.AddressRequest, AdminJson.Default.ClusterCommandResult, i.Cancellation);
        return i.Render(result, AdminJson.Default.ClusterCommandResult, () => i.Line($"{result.Address}: {result.Detail}"));
    }

    public static async Task<int> DownUnreachable(Invocation i)
    {
        var cluster = await i.Client.GetAsync(AdminRoutes.Cluster, AdminJson.Default.ClusterView, i.Cancellation);
        var results = new List<ClusterCommandResult>();
        foreach (var m in cluster.Members.Where(m => !m.Reachable))
        {
            results.Add(await i.Client.PostAsync(AdminRoutes.ClusterDown, new AddressRequest(m.Address),
                AdminJson.Default.AddressRequest, AdminJson.Default.ClusterCommandResult, i.Cancellation));
        }
        foreach (var r in results)
        {
            i.Line(i.Json ? System.Text.Json.JsonSerializer.Serialize(r, AdminJson.Default.ClusterCommandResult) : $"{r.Address}: {r.Detail}");
        }
        if (!i.Json)
        {
            i.Line(string.Create(CultureInfo.InvariantCulture, $"{results.Count} unreachable member(s) marked down"));
        }
        return ExitCodes.Ok;
    }

    public static async Task<int> Join(Invocation i, string address)
    {
        var result = await i.Client.PostAsync(AdminRoutes.ClusterJoin, new AddressRequest(address),
            AdminJson.Default.AddressRequest, AdminJson.Default.ClusterCommandResult, i.Cancellation);
        return i.Render(result, AdminJson.Default.ClusterCommandResult, () => i.Line($"{result.Address}: {result.Detail}"));
    }

    /// <summary>Polls the node's event log every second and prints what is new, the node's recent history first.</summary>
    public static async Task<int> Tail(Invocation i)
    {
        long after = 0;
        try
        {
            while (true)
            {
                var events = await i.Client.GetAsync($"{AdminRoutes.ClusterEvents}?after={after.ToString(CultureInfo.InvariantCulture)}",
                    AdminJson.Default.ClusterEventsView, i.Cancellation);
                foreach (var e in events.Events)
                {
                    i.Line(i.Json
                        ? System.Text.Json.JsonSerializer.Serialize(e, AdminJson.Default.ClusterEventView)
                        : string.Create(CultureInfo.InvariantCulture, $"{e.At:HH:mm:ss.fff} {e.Event} {e.Address} {e.Status}"));
                }
                after = Math.Max(after, events.Last);
                await Task.Delay(TimeSpan.FromSeconds(1), i.Cancellation);
            }
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Ok; // Ctrl+C: the normal end of a tail
        }
    }
}

/// <summary>pbm's cluster-sharding palette.</summary>
internal static class ShardingCommands
{
    public static async Task<int> Regions(Invocation i)
    {
        var sharding = await i.Client.GetAsync(AdminRoutes.Sharding, AdminJson.Default.ShardingView, i.Cancellation);
        return i.Render(sharding, AdminJson.Default.ShardingView, () =>
        {
            foreach (var t in sharding.TypeNames)
            {
                i.Line(t);
            }
        });
    }

    public static async Task<int> RegionStats(Invocation i, string typeName)
    {
        var region = await i.Client.GetAsync(AdminRoutes.ShardingRegion(typeName), AdminJson.Default.RegionView, i.Cancellation);
        return i.Render(region, AdminJson.Default.RegionView, () =>
        {
            var table = Invocation.Table("shard", "entities", "entity ids");
            foreach (var s in region.Shards)
            {
                Rows.Add(table, s.ShardId, s.EntityCount.ToString(CultureInfo.InvariantCulture), string.Join(" ", s.EntityIds));
            }
            i.Line($"{region.TypeName} on {region.Node}");
            i.Write(table);
            i.Line(string.Create(CultureInfo.InvariantCulture,
                $"{region.Shards.Count} shard(s), {region.Shards.Sum(s => s.EntityCount)} entit(ies){(region.FailedShards.Count > 0 ? $", {region.FailedShards.Count} shard(s) did not answer" : "")}"));
        });
    }

    public static async Task<int> ShardStats(Invocation i, string typeName)
    {
        var shards = await i.Client.GetAsync(AdminRoutes.ShardingShards(typeName), AdminJson.Default.ClusterShardsView, i.Cancellation);
        return i.Render(shards, AdminJson.Default.ClusterShardsView, () =>
        {
            var table = Invocation.Table("node", "shards", "entities", "failed");
            foreach (var r in shards.Regions)
            {
                Rows.Add(table, r.Node, r.Shards.Count.ToString(CultureInfo.InvariantCulture),
                    r.Shards.Sum(s => s.EntityCount).ToString(CultureInfo.InvariantCulture), r.FailedShards.Count.ToString(CultureInfo.InvariantCulture));
            }
            i.Line(shards.TypeName);
            i.Write(table);
        });
    }
}

/// <summary>pbm's actor palette, and our ingest palette.</summary>
internal static class IngestCommands
{
    public static async Task<int> Hierarchy(Invocation i, int depth)
    {
        var tree = await i.Client.GetAsync($"{AdminRoutes.Actors}?depth={depth.ToString(CultureInfo.InvariantCulture)}", AdminJson.Default.ActorTreeView, i.Cancellation);
        return i.Render(tree, AdminJson.Default.ActorTreeView, () =>
        {
            void Print(ActorView actor, int indent)
            {
                i.Line(new string(' ', indent * 2) + actor.Path);
                foreach (var child in actor.Children)
                {
                    Print(child, indent + 1);
                }
            }
            foreach (var root in tree.Roots)
            {
                Print(root, 0);
            }
        });
    }

    public static async Task<int> Flows(Invocation i, string? source)
    {
        var flows = await i.Client.GetAsync(AdminRoutes.Flows, AdminJson.Default.FlowsView, i.Cancellation);
        Fail(flows.Error);
        var shown = flows.Flows.Where(f => source is null || f.Source == source).ToList();
        if (source is not null && shown.Count == 0)
        {
            throw new CliException(ExitCodes.NotFound, $"no admitted flow from {source}");
        }
        return i.Render(flows with { Flows = shown }, AdminJson.Default.FlowsView, () =>
        {
            var table = Invocation.Table("source", "group", "state", "node", "packets", "bytes", "drops");
            foreach (var f in shown)
            {
                Rows.Add(table, f.Source, f.Group, f.State, f.Node, Invocation.Number(f.Packets), Invocation.Number(f.Bytes), Invocation.Number(f.Drops));
            }
            i.Write(table);
            i.Line(string.Create(CultureInfo.InvariantCulture, $"{shown.Count} flow(s); counters are {flows.Node}'s (– where another member carries the flow)"));
        });
    }

    public static async Task<int> Sources(Invocation i, string? source)
    {
        var sources = await i.Client.GetAsync(AdminRoutes.Sources, AdminJson.Default.SourcesView, i.Cancellation);
        Fail(sources.Error);
        var shown = sources.Sources.Where(s => source is null || s.Source == source).ToList();
        if (source is not null && shown.Count == 0)
        {
            throw new CliException(ExitCodes.NotFound, $"no source entity for {source} (only admitted sources have one)");
        }
        return i.Render(sources with { Sources = shown }, AdminJson.Default.SourcesView, () =>
        {
            var table = Invocation.Table("source", "state", "relay", "held down", "node", "detail");
            foreach (var s in shown)
            {
                Rows.Add(table, s.Source, s.State, s.Relay, string.Join(" ", s.HeldDownRelays), s.Node, s.Detail);
            }
            i.Write(table);
            i.Line(string.Create(CultureInfo.InvariantCulture, $"{shown.Count} source(s)") +
                (sources.Unanswered.Count > 0 ? $"; did not answer: {string.Join(" ", sources.Unanswered)}" : ""));
        });
    }

    public static async Task<int> Tunnels(Invocation i)
    {
        var tunnels = await i.Client.GetAsync(AdminRoutes.Tunnels, AdminJson.Default.TunnelsView, i.Cancellation);
        Fail(tunnels.Error);
        return i.Render(tunnels, AdminJson.Default.TunnelsView, () =>
        {
            var table = Invocation.Table("source", "relay", "state", "node", "groups", "packets", "bytes", "drops");
            foreach (var t in tunnels.Tunnels)
            {
                Rows.Add(table, t.Source, t.Relay, t.State, t.Node, t.Groups.ToString(CultureInfo.InvariantCulture),
                    Invocation.Number(t.Packets), Invocation.Number(t.Bytes), Invocation.Number(t.Drops));
            }
            i.Write(table);
            var counters = Invocation.Table("this node's counter", "value");
            foreach (var (name, value) in tunnels.NodeCounters.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                Rows.Add(counters, name, Invocation.Number(value));
            }
            i.Write(counters);
        });
    }

    public static async Task<int> Pim(Invocation i)
    {
        var pim = await i.Client.GetAsync(AdminRoutes.Pim, AdminJson.Default.PimView, i.Cancellation);
        return i.Render(pim, AdminJson.Default.PimView, () =>
        {
            if (pim.Interfaces.Count == 0)
            {
                i.Line($"{pim.Node}: no PIM interface (demand from a joinfile, or none)");
            }
            foreach (var p in pim.Interfaces)
            {
                i.Line(p.Error is null ? $"{p.Interface}: generation id {p.GenerationId}" : $"{p.Interface}: {p.Error}");
                var neighbors = Invocation.Table("neighbour", "generation id", "DR priority", "expires");
                foreach (var n in p.Neighbors)
                {
                    Rows.Add(neighbors, n.Address, n.GenerationId?.ToString(CultureInfo.InvariantCulture), n.DrPriority?.ToString(CultureInfo.InvariantCulture), Time(n.ExpiresAt));
                }
                i.Write(neighbors);
                var joins = Invocation.Table("source", "group", "state", "expires");
                foreach (var j in p.Joins)
                {
                    Rows.Add(joins, j.Source, j.Group, j.State, Time(j.ExpiresAt));
                }
                i.Write(joins);
            }
        });
    }

    private static string Time(DateTimeOffset? at) => at?.ToUniversalTime().ToString("HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "never";

    private static void Fail(string? error)
    {
        if (error is not null)
        {
            throw new CliException(ExitCodes.NodeError, error);
        }
    }
}

/// <summary>Our relay and log palettes.</summary>
internal static class RelayCommands
{
    public static async Task<int> List(Invocation i) =>
        Show(i, await i.Client.GetAsync(AdminRoutes.RelayOverrides, AdminJson.Default.RelayOverridesView, i.Cancellation));

    public static async Task<int> Add(Invocation i, string prefix, string relay) =>
        Show(i, await i.Client.PostAsync(AdminRoutes.RelayOverrides, new RelayOverrideRequest(prefix, relay),
            AdminJson.Default.RelayOverrideRequest, AdminJson.Default.RelayOverridesView, i.Cancellation));

    public static async Task<int> Remove(Invocation i, string prefix) =>
        Show(i, await i.Client.DeleteAsync($"{AdminRoutes.RelayOverrides}?prefix={Uri.EscapeDataString(prefix)}",
            AdminJson.Default.RelayOverridesView, i.Cancellation));

    private static int Show(Invocation i, RelayOverridesView overrides) =>
        i.Render(overrides, AdminJson.Default.RelayOverridesView, () =>
        {
            var table = Invocation.Table("prefix", "relay", "resolved to", "from");
            foreach (var o in overrides.Overrides)
            {
                Rows.Add(table, o.Prefix, o.Relay, o.ResolvedTo ?? "unresolved (not used)", o.FromSettings ? "settings" : "admin API");
            }
            i.Write(table);
            i.Line(string.Create(CultureInfo.InvariantCulture,
                $"{overrides.Overrides.Count} override(s) on {overrides.Node}; consulted {(overrides.ConsultBeforeDns ? "before DNS" : "when DNS has no AMTRELAY record")}"));
        });

    public static async Task<int> Level(Invocation i, string? level)
    {
        var view = level is null
            ? await i.Client.GetAsync(AdminRoutes.LogLevel, AdminJson.Default.LogLevelView, i.Cancellation)
            : await i.Client.PutAsync(AdminRoutes.LogLevel, new LogLevelView(level), AdminJson.Default.LogLevelView, AdminJson.Default.LogLevelView, i.Cancellation);
        return i.Render(view, AdminJson.Default.LogLevelView, () => i.Line(view.Level));
    }
}
