using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>
/// The admitted flows' bitrates and offloads as one flat array with an open-addressing index on (S,G), immutable
/// as seen from outside: what <see cref="BandwidthPolicy"/> joins the demanded flows with, by probing it once per
/// demanded flow and walking it only when some admitted flow is not demanded.
/// <para>A flow keeps its position from its admission on. Positions are only ever added at the end, so tables
/// share their arrays: a table sees the positions below its <see cref="Positions"/> and the index slots that point
/// below it (a slot pointing further was empty when the table was made, and is read as empty). The newest table of
/// a line appends in place (it claims the next positions of the shared arrays; any other table that would append
/// there copies first). A removed flow is a bit in the table's own small bitmap, a hole that every walk skips and
/// that the flow takes again if it comes back with the same values. Changing a flow's values, a quarter of the
/// positions being holes, or a full array, copies the arrays (then without the holes, and with room to grow).</para>
/// The order of the positions is the order of the changes (never a hash order); the index's hash is seeded per
/// process, which changes nothing but the slots.
/// </summary>
internal sealed class AdmittedTable
{
    /// <summary>One position. <see cref="Key"/> is (S,G) as 64 bits when both are IPv4 (<see cref="Wide"/> false),
    /// so that a probe compares one number and reads no address.</summary>
    internal struct Entry
    {
        public SourceGroup Flow;
        public ulong Key;
        public long Bits;
        public long Offload;
        public uint Hash;
        public bool Wide;
    }

    /// <summary>A change to apply: the flow admitted with these values, or removed.</summary>
    internal readonly record struct Change(SourceGroup Flow, long Bits, long Offload, bool Removed);

    /// <summary>The arrays a line of tables shares. <see cref="Claimed"/>: the positions some table has taken.</summary>
    private sealed class Shared(Entry[] entries, ulong[] slots)
    {
        public readonly Entry[] Entries = entries;
        // A slot is empty (0) or holds the entry's hash in the high half and its position + 1 in the low half.
        public readonly ulong[] Slots = slots;
        public readonly int Mask = slots.Length - 1;
        public int Claimed;
    }

    public static readonly AdmittedTable Empty = new(new Shared([], new ulong[1]), 0, 0, null);

    private static readonly ulong Seed = (ulong)Random.Shared.NextInt64();

    private readonly Shared _shared;
    /// <summary>The removed positions (null: none).</summary>
    private readonly ulong[]? _removed;

    private AdmittedTable(Shared shared, int positions, int count, ulong[]? removed)
    {
        _shared = shared;
        Positions = positions;
        Count = count;
        _removed = removed;
    }

    /// <summary>The positions, holes included: walk 0 to this and skip the <see cref="IsRemoved"/> ones.</summary>
    public int Positions { get; }

    /// <summary>The flows in the table.</summary>
    public int Count { get; }

    public ref readonly Entry this[int position] => ref _shared.Entries[position];

    public bool IsRemoved(int position) => _removed is { } removed && (removed[position >> 6] & 1UL << position) != 0;

    /// <summary>The position of <paramref name="flow"/>, or −1.</summary>
    public int Find(SourceGroup flow)
    {
        if (Count == 0)
        {
            return -1;
        }
        var probe = EntryOf(flow, 0, 0);
        int p = Find(_shared, Positions, in probe);
        return p >= 0 && !IsRemoved(p) ? p : -1;
    }

    /// <summary>The table of these flows in this order; a flow given twice keeps its first place and its last values.</summary>
    public static AdmittedTable Build(IEnumerable<(SourceGroup Flow, long Bits, long Offload)> flows, int capacity)
    {
        var changes = flows.Select(f => new Change(f.Flow, f.Bits, f.Offload, false)).ToArray();
        return Empty.With(changes);
    }

    /// <summary>This table with <paramref name="changes"/> applied in order: in place when they only add flows,
    /// remove flows, or bring removed ones back as they were (and there is room), else on a copy.</summary>
    public AdmittedTable With(ReadOnlySpan<Change> changes) => InPlace(changes) ?? Copied(changes);

    /// <summary>An address's IPv4 bits, big-endian (its first four bytes for any other address).</summary>
    internal static uint V4(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    private AdmittedTable? InPlace(ReadOnlySpan<Change> changes)
    {
        var shared = _shared;
        int positions = Positions;
        if (positions + changes.Length > shared.Entries.Length || (positions + changes.Length) * 2 > shared.Slots.Length)
        {
            // Maybe no room for what they add.
            return null;
        }
        int count = Count;
        ulong[]? removed = _removed;
        bool copiedRemoved = false;
        bool claimed = false;
        foreach (var change in changes)
        {
            var entry = EntryOf(change.Flow, change.Bits, change.Offload);
            int p = Find(shared, positions, in entry);
            bool isRemoved = p >= 0 && removed is not null && (removed[p >> 6] & 1UL << p) != 0;
            if (change.Removed)
            {
                if (p >= 0 && !isRemoved)
                {
                    SetRemoved(p, true);
                    count--;
                }
                continue;
            }
            if (p >= 0)
            {
                ref readonly var there = ref shared.Entries[p];
                if (there.Bits != entry.Bits || there.Offload != entry.Offload)
                {
                    return null;
                }
                if (isRemoved)
                {
                    SetRemoved(p, false);
                    count++;
                }
                continue;
            }
            // A new flow: the next position of the shared arrays, if this line's newest table is this one.
            if ((!claimed && Interlocked.CompareExchange(ref shared.Claimed, positions + 1, positions) != positions) ||
                (claimed && Interlocked.Increment(ref shared.Claimed) != positions + 1))
            {
                // Taken by another table: copy (what this call wrote past this table's positions is read as empty
                // by every table that sees it).
                return null;
            }
            claimed = true;
            shared.Entries[positions] = entry;
            Insert(shared, positions);
            positions++;
            count++;
        }
        if (positions - count > Math.Max(16, positions / 4))
        {
            return null;
        }
        return count == 0 ? Empty : new AdmittedTable(shared, positions, count, removed);

        void SetRemoved(int p, bool value)
        {
            if (!copiedRemoved)
            {
                var copy = new ulong[(shared.Entries.Length + 63) >> 6];
                removed?.AsSpan().CopyTo(copy);
                removed = copy;
                copiedRemoved = true;
            }
            if (value)
            {
                removed![p >> 6] |= 1UL << p;
            }
            else
            {
                removed![p >> 6] &= ~(1UL << p);
            }
        }
    }

    /// <summary>The changes applied to a copy of the live flows, with room for as many again. Looks the
    /// changed flows up in this table's index; only the flows new to it go through a dictionary.</summary>
    private AdmittedTable Copied(ReadOnlySpan<Change> changes)
    {
        // The last change of each flow: at its position in this table, or among the new ones, in order.
        var atPosition = new Dictionary<int, Change>();
        var added = new List<Change>();
        var addedAt = new Dictionary<SourceGroup, int>();
        foreach (var change in changes)
        {
            var probe = EntryOf(change.Flow, 0, 0);
            int p = Count == 0 ? -1 : Find(_shared, Positions, in probe);
            if (p >= 0)
            {
                atPosition[p] = change;
            }
            else if (addedAt.TryGetValue(change.Flow, out int i))
            {
                added[i] = change;
            }
            else
            {
                addedAt[change.Flow] = added.Count;
                added.Add(change);
            }
        }
        int upTo = Positions + added.Count;
        if (upTo == 0)
        {
            return Empty;
        }
        // Room for as many again, and then some: the set applies its notes once they are as many as its flows.
        int capacity = upTo * 2 + 16;
        int size = 16;
        while (size < capacity * 2)
        {
            size <<= 1;
        }
        var shared = new Shared(new Entry[capacity], new ulong[size]);
        int positions = 0;
        var changed = atPosition.OrderBy(kv => kv.Key).ToArray();
        int next = 0;
        for (int p = 0; p < Positions; p++)
        {
            bool has = next < changed.Length && changed[next].Key == p;
            var change = has ? changed[next++].Value : default;
            if (has ? !change.Removed : !IsRemoved(p))
            {
                var entry = _shared.Entries[p];
                if (has)
                {
                    entry.Bits = change.Bits;
                    entry.Offload = change.Offload;
                }
                shared.Entries[positions] = entry;
                Insert(shared, positions++);
            }
        }
        foreach (var change in added)
        {
            if (!change.Removed)
            {
                shared.Entries[positions] = EntryOf(change.Flow, change.Bits, change.Offload);
                Insert(shared, positions++);
            }
        }
        if (positions == 0)
        {
            return Empty;
        }
        shared.Claimed = positions;
        return new AdmittedTable(shared, positions, positions, null);
    }

    private static Entry EntryOf(SourceGroup flow, long bits, long offload)
    {
        var entry = new Entry { Flow = flow, Bits = bits, Offload = offload };
        if (flow.Source.AddressFamily == AddressFamily.InterNetwork && flow.Group.AddressFamily == AddressFamily.InterNetwork)
        {
            entry.Key = (ulong)V4(flow.Source) << 32 | V4(flow.Group);
            entry.Hash = Mix(entry.Key);
        }
        else
        {
            entry.Wide = true;
            entry.Hash = Mix((ulong)(uint)flow.Source.GetHashCode() << 32 | (uint)flow.Group.GetHashCode());
        }
        return entry;
    }

    private static uint Mix(ulong x)
    {
        x ^= Seed;
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDUL;
        x ^= x >> 33;
        x *= 0xC4CEB9FE1A85EC53UL;
        x ^= x >> 33;
        return (uint)x;
    }

    /// <summary>The position below <paramref name="positions"/> holding the probe's flow, removed or not, or −1. A
    /// slot pointing at or past <paramref name="positions"/> was empty for that table, and ends the probe.</summary>
    private static int Find(Shared shared, int positions, in Entry probe)
    {
        var slots = shared.Slots;
        for (int slot = (int)probe.Hash & shared.Mask; ; slot = (slot + 1) & shared.Mask)
        {
            ulong value = Volatile.Read(ref slots[slot]);
            int p = (int)(uint)value - 1;
            if (value == 0 || p >= positions)
            {
                return -1;
            }
            if ((uint)(value >> 32) == probe.Hash)
            {
                ref var entry = ref shared.Entries[p];
                if (entry.Wide == probe.Wide && (probe.Wide
                        ? entry.Flow.Source.Equals(probe.Flow.Source) && entry.Flow.Group.Equals(probe.Flow.Group)
                        : entry.Key == probe.Key))
                {
                    return p;
                }
            }
        }
    }

    private static void Insert(Shared shared, int p)
    {
        uint hash = shared.Entries[p].Hash;
        int slot = (int)hash & shared.Mask;
        while (shared.Slots[slot] != 0)
        {
            slot = (slot + 1) & shared.Mask;
        }
        // The entry is written before the slot that points at it.
        Volatile.Write(ref shared.Slots[slot], (ulong)hash << 32 | (uint)(p + 1));
    }
}
