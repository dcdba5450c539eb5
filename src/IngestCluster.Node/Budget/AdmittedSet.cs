using System.Collections;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>
/// The admitted flows, immutable: each change gives a new set and leaves this one as it was. Two parts:
/// <list type="bullet">
/// <item>the bitrates and offloads, in a flat table (<see cref="AdmittedTable"/>) that the policy joins with the
/// demanded flows without walking a tree. A change is first only noted, in a list shared by the sets after it;
/// the notes are applied when the policy asks for the table (once per set: the result is kept, and later changes
/// start from it), or once there are as many as the table has flows. Admissions and releases are applied in place
/// (the table's arrays are shared along the line of sets and only appended to), so a decision does not copy the
/// table; a burst of 10,000 admissions copies it a few times as it grows, not 10,000 times;</item>
/// <item>when each was last claimed, apart (every origin snapshot renews them), so that renewing claims changes
/// neither the table nor the notes. The policy reads them only for the admitted flows nobody demands.</item>
/// </list>
/// Enumerated in the table's order: the order the flows were first admitted in (or listed in the snapshot), never
/// a hash order.
/// </summary>
public sealed class AdmittedSet : IReadOnlyDictionary<SourceGroup, AdmittedFlow>
{
    public static readonly AdmittedSet Empty = new(AdmittedTable.Empty, null, 0, ImmutableDictionary<SourceGroup, DateTimeOffset>.Empty);

    /// <summary>A change not applied to the table yet; the newest first.</summary>
    private sealed record Note(AdmittedTable.Change Change, Note? Before);

    private readonly AdmittedTable _base;
    private readonly Note? _notes;
    private readonly int _noteCount;
    /// <summary>Every admitted flow, with when it was last claimed: its keys are the set's.</summary>
    private readonly ImmutableDictionary<SourceGroup, DateTimeOffset> _claims;
    private AdmittedTable? _applied;

    private AdmittedSet(AdmittedTable table, Note? notes, int noteCount, ImmutableDictionary<SourceGroup, DateTimeOffset> claims)
    {
        _base = table;
        _notes = notes;
        _noteCount = noteCount;
        _claims = claims;
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
        return new AdmittedSet(table, null, 0, claims.ToImmutable());
    }

    public int Count => _claims.Count;

    public bool IsEmpty => _claims.IsEmpty;

    /// <summary>The flat table of the bitrates and offloads, the changes applied (once: the result is kept).</summary>
    internal AdmittedTable Table => _notes is null ? _base : _applied ??= Apply();

    public AdmittedFlow this[SourceGroup key] =>
        TryGetValue(key, out var admitted) ? admitted : throw new KeyNotFoundException($"{key} is not admitted");

    public IEnumerable<SourceGroup> Keys => Rates.Select(r => r.Flow);

    public IEnumerable<AdmittedFlow> Values => this.Select(kv => kv.Value);

    /// <summary>Each flow with its bitrate and offload, without its claim time (which costs a lookup each).</summary>
    public IEnumerable<(SourceGroup Flow, Bitrate Bitrate, long Offload)> Rates
    {
        get
        {
            var table = Table;
            for (int p = 0; p < table.Positions; p++)
            {
                if (!table.IsRemoved(p))
                {
                    yield return (table[p].Flow, new Bitrate(table[p].Bits), table[p].Offload);
                }
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
        var table = Table;
        ref readonly var entry = ref table[table.Find(key)];
        value = new AdmittedFlow(new Bitrate(entry.Bits), entry.Offload, claimed);
        return true;
    }

    /// <summary>When <paramref name="flow"/>, which is admitted, was last claimed.</summary>
    internal DateTimeOffset LastClaimed(SourceGroup flow) => _claims[flow];

    /// <summary>Admits <paramref name="flow"/> (again) with these values.</summary>
    public AdmittedSet SetItem(SourceGroup flow, AdmittedFlow admitted) =>
        Noted(new AdmittedTable.Change(flow, admitted.Bitrate.BitsPerSecond, admitted.Offload, false), _claims.SetItem(flow, admitted.LastClaimed));

    public AdmittedSet Remove(SourceGroup flow) =>
        _claims.ContainsKey(flow) ? Noted(new AdmittedTable.Change(flow, 0, 0, true), _claims.Remove(flow)) : this;

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
        return claims is null ? this : new AdmittedSet(_base, _notes, _noteCount, claims.ToImmutable()) { _applied = _applied };
    }

    /// <summary>Every flow claimed at <paramref name="now"/>.</summary>
    public AdmittedSet ClaimedAll(DateTimeOffset now) => Claimed(_claims.Keys, now);

    public IEnumerator<KeyValuePair<SourceGroup, AdmittedFlow>> GetEnumerator()
    {
        foreach (var (flow, bitrate, offload) in Rates)
        {
            yield return new(flow, new AdmittedFlow(bitrate, offload, _claims[flow]));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private AdmittedSet Noted(AdmittedTable.Change change, ImmutableDictionary<SourceGroup, DateTimeOffset> claims)
    {
        // From the applied table, once there is one.
        var (table, notes, count) = _applied is { } applied ? (applied, null, 0) : (_base, _notes, _noteCount);
        var next = new AdmittedSet(table, new Note(change, notes), count + 1, claims);
        // As many notes as flows: apply them now, so that the notes cost at most one table copy per as many
        // changes as the table holds.
        return next._noteCount > Math.Max(64, table.Count)
            ? new AdmittedSet(next.Table, null, 0, claims)
            : next;
    }

    private AdmittedTable Apply()
    {
        var changes = new AdmittedTable.Change[_noteCount];
        int i = _noteCount;
        for (var note = _notes; note is not null; note = note.Before)
        {
            changes[--i] = note.Change;
        }
        return _base.With(changes);
    }
}
