using System.Collections;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>
/// The admitted flows, immutable: each change gives a new set and leaves this one as it was. Two parts:
/// <list type="bullet">
/// <item>the bitrates and offloads, in a flat table (<see cref="AdmittedTable"/>) that the policy joins with the
/// demanded flows without walking a tree. A change goes to a small overlay of changes first, and the overlay is
/// folded into a new table once it holds a quarter of the table (so a burst of 10,000 admissions copies the table
/// a few times, not 10,000 times), or when the policy asks for the table (once per set: the folded table is kept);</item>
/// <item>when each was last claimed, apart (every origin snapshot renews them), so that renewing claims changes
/// neither the table nor the overlay. The policy reads them only for the admitted flows nobody demands.</item>
/// </list>
/// Enumerated in the table's order: the order the flows were admitted in (or listed in the snapshot), never a
/// hash order.
/// </summary>
public sealed class AdmittedSet : IReadOnlyDictionary<SourceGroup, AdmittedFlow>
{
    public static readonly AdmittedSet Empty = new(AdmittedTable.Empty, ImmutableDictionary<SourceGroup, Change>.Empty,
        ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty, 0);

    /// <summary>A flow's new bitrate and offload, or its removal, not folded into the table yet, with when it
    /// was made (new flows are appended to the table in that order).</summary>
    private readonly record struct Change(long Bits, long Offload, bool Removed, long Sequence);

    private readonly AdmittedTable _base;
    private readonly ImmutableDictionary<SourceGroup, Change> _changes;
    /// <summary>Every admitted flow, with when it was last claimed: its keys are the set's.</summary>
    private readonly ImmutableDictionary<SourceGroup, DateTimeOffset> _claims;
    private readonly long _sequence;
    private AdmittedTable? _folded;

    private AdmittedSet(AdmittedTable table, ImmutableDictionary<SourceGroup, Change> changes,
        ImmutableDictionary<SourceGroup, DateTimeOffset> claims, long sequence)
    {
        _base = table;
        _changes = changes;
        _claims = claims;
        _sequence = sequence;
    }

    /// <summary>The set of these flows; a flow given twice has its last values.</summary>
    public static AdmittedSet From(IEnumerable<KeyValuePair<SourceGroup, AdmittedFlow>> flows)
    {
        var list = flows as IReadOnlyCollection<KeyValuePair<SourceGroup, AdmittedFlow>> ?? [.. flows];
        var table = AdmittedTable.Build(list.Select(kv => (kv.Key, kv.Value.Bitrate.BitsPerSecond, kv.Value.Offload)), list.Count);
        var claims = ImmutableDictionary.CreateBuilder<SourceGroup, DateTimeOffset>();
        foreach (var (flow, admitted) in list)
        {
            claims[flow] = admitted.LastClaimed;
        }
        return new AdmittedSet(table, ImmutableDictionary<SourceGroup, Change>.Empty, claims.ToImmutable(), 0);
    }

    public int Count => _claims.Count;

    public bool IsEmpty => _claims.IsEmpty;

    /// <summary>The flat table of the bitrates and offloads, the changes folded in (once: the result is kept).</summary>
    internal AdmittedTable Table => _changes.IsEmpty ? _base : _folded ??= Fold();

    public AdmittedFlow this[SourceGroup key] =>
        TryGetValue(key, out var admitted) ? admitted : throw new KeyNotFoundException($"{key} is not admitted");

    public IEnumerable<SourceGroup> Keys
    {
        get
        {
            var table = Table;
            for (int p = 0; p < table.Count; p++)
            {
                yield return table[p].Flow;
            }
        }
    }

    public IEnumerable<AdmittedFlow> Values => this.Select(kv => kv.Value);

    /// <summary>Each flow with its bitrate and offload, without its claim time (which costs a lookup each).</summary>
    public IEnumerable<(SourceGroup Flow, Bitrate Bitrate, long Offload)> Rates
    {
        get
        {
            var table = Table;
            for (int p = 0; p < table.Count; p++)
            {
                yield return (table[p].Flow, new Bitrate(table[p].Bits), table[p].Offload);
            }
        }
    }

    public bool ContainsKey(SourceGroup key) => _claims.ContainsKey(key);

    public bool TryGetValue(SourceGroup key, [MaybeNullWhen(false)] out AdmittedFlow value)
    {
        if (!_claims.TryGetValue(key, out var claimed))
        {
            value = default;
            return false;
        }
        if (_changes.TryGetValue(key, out var change))
        {
            value = new AdmittedFlow(new Bitrate(change.Bits), change.Offload, claimed);
            return true;
        }
        var table = _folded ?? _base;
        ref readonly var entry = ref table[table.Find(key)];
        value = new AdmittedFlow(new Bitrate(entry.Bits), entry.Offload, claimed);
        return true;
    }

    /// <summary>When <paramref name="flow"/>, which is admitted, was last claimed.</summary>
    internal DateTimeOffset LastClaimed(SourceGroup flow) => _claims[flow];

    /// <summary>Admits <paramref name="flow"/> (again) with these values.</summary>
    public AdmittedSet SetItem(SourceGroup flow, AdmittedFlow admitted)
    {
        var (table, changes) = Start();
        int at = table.Find(flow);
        bool asInTable = at >= 0 && table[at].Bits == admitted.Bitrate.BitsPerSecond && table[at].Offload == admitted.Offload;
        // A flow keeps its place: in the table, or among the changes not folded yet.
        long sequence = changes.TryGetValue(flow, out var pending) ? pending.Sequence : _sequence;
        changes = asInTable
            ? changes.Remove(flow)
            : changes.SetItem(flow, new Change(admitted.Bitrate.BitsPerSecond, admitted.Offload, false, sequence));
        return Next(table, changes, _claims.SetItem(flow, admitted.LastClaimed));
    }

    public AdmittedSet Remove(SourceGroup flow)
    {
        if (!_claims.ContainsKey(flow))
        {
            return this;
        }
        var (table, changes) = Start();
        changes = table.Find(flow) >= 0 ? changes.SetItem(flow, new Change(0, 0, true, _sequence)) : changes.Remove(flow);
        return Next(table, changes, _claims.Remove(flow));
    }

    /// <summary>These flows, where admitted, claimed at <paramref name="now"/> (the others are ignored). The table
    /// is shared, not copied.</summary>
    public AdmittedSet Claimed(IEnumerable<SourceGroup> flows, DateTimeOffset now)
    {
        ImmutableDictionary<SourceGroup, DateTimeOffset>.Builder? claims = null;
        foreach (var flow in flows)
        {
            if (_claims.TryGetValue(flow, out var claimed) && claimed != now)
            {
                claims ??= _claims.ToBuilder();
                claims[flow] = now;
            }
        }
        return claims is null ? this : new AdmittedSet(_base, _changes, claims.ToImmutable(), _sequence) { _folded = _folded };
    }

    /// <summary>Every flow claimed at <paramref name="now"/>.</summary>
    public AdmittedSet ClaimedAll(DateTimeOffset now) => Claimed(_claims.Keys, now);

    public IEnumerator<KeyValuePair<SourceGroup, AdmittedFlow>> GetEnumerator()
    {
        var table = Table;
        for (int p = 0; p < table.Count; p++)
        {
            ref readonly var entry = ref table[p];
            yield return new(entry.Flow, new AdmittedFlow(new Bitrate(entry.Bits), entry.Offload, _claims[entry.Flow]));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The table and changes a change starts from: the folded table, once there is one.</summary>
    private (AdmittedTable Table, ImmutableDictionary<SourceGroup, Change> Changes) Start() =>
        _folded is { } folded ? (folded, ImmutableDictionary<SourceGroup, Change>.Empty) : (_base, _changes);

    private AdmittedSet Next(AdmittedTable table, ImmutableDictionary<SourceGroup, Change> changes, ImmutableDictionary<SourceGroup, DateTimeOffset> claims)
    {
        var next = new AdmittedSet(table, changes, claims, _sequence + 1);
        // A quarter of the table changed: fold now, so the overlay stays small and a fold is paid for by as many
        // changes as a quarter of the table.
        return changes.Count > Math.Max(64, table.Count / 4)
            ? new AdmittedSet(next.Fold(), ImmutableDictionary<SourceGroup, Change>.Empty, claims, 0)
            : next;
    }

    private AdmittedTable Fold()
    {
        var updates = new List<(int At, long Bits, long Offload, bool Removed)>();
        var added = new List<(long Sequence, SourceGroup Flow, long Bits, long Offload)>();
        foreach (var (flow, change) in _changes)
        {
            int at = _base.Find(flow);
            if (at >= 0)
            {
                updates.Add((at, change.Bits, change.Offload, change.Removed));
            }
            else if (!change.Removed)
            {
                added.Add((change.Sequence, flow, change.Bits, change.Offload));
            }
        }
        updates.Sort((x, y) => x.At.CompareTo(y.At));
        added.Sort((x, y) => x.Sequence.CompareTo(y.Sequence));
        return _base.With(updates, [.. added.Select(a => (a.Flow, a.Bits, a.Offload))]);
    }
}
