using System.Net;
using IngestCluster.Protocols;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Node.Demand;

/// <summary>Per-(S,G) downstream state of an interface, with FRR's names (RFC 7761 §4.5.3, for (S,G) only).</summary>
public enum DownstreamState
{
    NoInfo,
    Join,
    PrunePending,
}

/// <summary>A change of demand: (S,G) became joined, or stopped being joined.</summary>
public readonly record struct DemandChange(SourceGroup Flow, bool Joined);

/// <summary>Why an entry of a Join/Prune was not taken; the label of <c>ingest_pim_entries_ignored_total</c>.</summary>
public enum IgnoredEntry
{
    /// <summary>The group is outside the configured SSM ranges.</summary>
    NonSsm,
    /// <summary>W or R set, or S clear: (*,G) or (S,G,rpt) state, which an SSM ingest does not keep.</summary>
    NotSourceSpecific,
    /// <summary>A source mask shorter than a host address.</summary>
    NotHostMask,
}

/// <summary>
/// The (S,G) demand that Join/Prunes express on one interface: the per-(S,G) downstream state machine of an
/// upstream router, reduced to what an SSM ingest needs. A Join puts (S,G) in Join for the message's holdtime
/// (refreshed by each Join, 0xFFFF for ever); a Prune removes it at once when no other router is on the LAN,
/// otherwise after the override interval unless a Join overrides it first. Duplicate Joins change nothing. Pure:
/// time comes from the injected clock; the caller calls <see cref="Expire"/> on a timer.
/// </summary>
public sealed class DemandTable(TimeProvider clock, IReadOnlyList<IPNetwork> ssmRanges, TimeSpan overrideInterval)
{
    private readonly Dictionary<SourceGroup, Entry> _entries = [];

    public IReadOnlyCollection<SourceGroup> Joined => _entries.Keys;

    public DownstreamState StateOf(SourceGroup flow) => _entries.TryGetValue(flow, out var e) ? e.State : DownstreamState.NoInfo;

    /// <summary>When the join of <paramref name="flow"/> expires unless refreshed (its Join's Holdtime); null for
    /// none (infinite holdtime, or not joined).</summary>
    public DateTimeOffset? ExpiryOf(SourceGroup flow) => _entries.TryGetValue(flow, out var e) ? e.ExpiresAt : null;

    /// <param name="otherNeighbors">Whether another router than the sender is on the LAN: then a Prune waits the
    /// override interval.</param>
    /// <param name="ignored">Called for each entry that is not ours, with why.</param>
    public IReadOnlyList<DemandChange> Apply(PimJoinPrune message, bool otherNeighbors, Action<IgnoredEntry> ignored)
    {
        var changes = new List<DemandChange>();
        var now = clock.GetUtcNow();
        DateTimeOffset? expires = message.HoldtimeSeconds == ushort.MaxValue ? null : now.AddSeconds(message.HoldtimeSeconds);
        foreach (var group in message.Groups)
        {
            if (!IsSsm(group.Group.Address))
            {
                for (int i = 0; i < group.Joined.Count + group.Pruned.Count; i++)
                {
                    ignored(IgnoredEntry.NonSsm);
                }
                continue;
            }
            foreach (var source in group.Joined)
            {
                if (Check(source, ignored))
                {
                    var flow = new SourceGroup(source.Address, group.Group.Address);
                    if (message.HoldtimeSeconds == 0)
                    {
                        Prune(flow, otherNeighbors, now, changes);
                    }
                    else
                    {
                        Join(flow, expires, changes);
                    }
                }
            }
            foreach (var source in group.Pruned)
            {
                if (Check(source, ignored))
                {
                    Prune(new SourceGroup(source.Address, group.Group.Address), otherNeighbors, now, changes);
                }
            }
        }
        return changes;
    }

    /// <summary>Ends the entries whose holdtime or prune-pending time ran out.</summary>
    public IReadOnlyList<DemandChange> Expire()
    {
        var now = clock.GetUtcNow();
        var changes = new List<DemandChange>();
        foreach (var (flow, entry) in _entries.ToList())
        {
            if ((entry.ExpiresAt is { } at && at <= now) || (entry.State == DownstreamState.PrunePending && entry.PruneAt <= now))
            {
                _entries.Remove(flow);
                changes.Add(new DemandChange(flow, false));
            }
        }
        return changes;
    }

    /// <summary>Forgets everything (the interface went away); returns the leaves.</summary>
    public IReadOnlyList<DemandChange> Clear()
    {
        var changes = _entries.Keys.Select(f => new DemandChange(f, false)).ToList();
        _entries.Clear();
        return changes;
    }

    private void Join(SourceGroup flow, DateTimeOffset? expires, List<DemandChange> changes)
    {
        bool isNew = !_entries.ContainsKey(flow);
        _entries[flow] = new Entry(DownstreamState.Join, expires, DateTimeOffset.MaxValue);
        if (isNew)
        {
            changes.Add(new DemandChange(flow, true));
        }
    }

    private void Prune(SourceGroup flow, bool otherNeighbors, DateTimeOffset now, List<DemandChange> changes)
    {
        if (!_entries.TryGetValue(flow, out var entry))
        {
            return;
        }
        if (!otherNeighbors)
        {
            _entries.Remove(flow);
            changes.Add(new DemandChange(flow, false));
        }
        else if (entry.State == DownstreamState.Join)
        {
            _entries[flow] = entry with { State = DownstreamState.PrunePending, PruneAt = now + overrideInterval };
        }
    }

    private static bool Check(PimEncodedSource source, Action<IgnoredEntry> ignored)
    {
        if (!source.Sparse || source.Wildcard || source.Rpt)
        {
            ignored(IgnoredEntry.NotSourceSpecific);
            return false;
        }
        if (source.MaskLength != (source.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32))
        {
            ignored(IgnoredEntry.NotHostMask);
            return false;
        }
        return true;
    }

    private bool IsSsm(IPAddress group) => ssmRanges.Any(r => r.Contains(group));

    private sealed record Entry(DownstreamState State, DateTimeOffset? ExpiresAt, DateTimeOffset PruneAt);
}
