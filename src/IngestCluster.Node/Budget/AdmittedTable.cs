using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>
/// The admitted flows' bitrates and offloads as one flat array with an open-addressing index on (S,G), immutable
/// once built: what <see cref="BandwidthPolicy"/> joins the demanded flows with, by probing it once per demanded
/// flow and walking it only when some admitted flow is not demanded. A flow keeps its position from its admission
/// on; a removed one leaves a hole (skipped by every walk, taken again if the flow comes back) until a quarter of
/// the positions are holes, and then the table is rebuilt without them. The order of the positions is the order of
/// the changes (never a hash order); the index's hash is seeded per process, which changes nothing but the slots.
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
        public bool Removed;
    }

    /// <summary>A change to apply: the flow admitted with these values, or removed.</summary>
    internal readonly record struct Change(SourceGroup Flow, long Bits, long Offload, bool Removed);

    public static readonly AdmittedTable Empty = new([], 0, 0, new ulong[1], 0);

    private static readonly ulong Seed = (ulong)Random.Shared.NextInt64();

    private readonly Entry[] _entries;
    // A slot is empty (0) or holds the entry's hash in the high half and its position + 1 in the low half.
    private readonly ulong[] _slots;
    private readonly int _mask;

    private AdmittedTable(Entry[] entries, int positions, int count, ulong[] slots, int mask)
    {
        _entries = entries;
        Positions = positions;
        Count = count;
        _slots = slots;
        _mask = mask;
    }

    /// <summary>The positions, holes included: walk 0 to this and skip the <see cref="Entry.Removed"/> ones.</summary>
    public int Positions { get; }

    /// <summary>The flows in the table.</summary>
    public int Count { get; }

    public ref readonly Entry this[int position] => ref _entries[position];

    /// <summary>The position of <paramref name="flow"/>, or −1.</summary>
    public int Find(SourceGroup flow)
    {
        if (Count == 0)
        {
            return -1;
        }
        var probe = EntryOf(flow, 0, 0);
        int p = Find(_entries, _slots, _mask, in probe);
        return p >= 0 && !_entries[p].Removed ? p : -1;
    }

    /// <summary>The table of these flows in this order; a flow given twice keeps its first place and its last values.</summary>
    public static AdmittedTable Build(IEnumerable<(SourceGroup Flow, long Bits, long Offload)> flows, int capacity)
    {
        var builder = new Builder(Empty, capacity);
        foreach (var (flow, bits, offload) in flows)
        {
            builder.Set(EntryOf(flow, bits, offload));
        }
        return builder.ToTable();
    }

    /// <summary>This table with <paramref name="changes"/> applied in order. Copies the arrays once (two block
    /// copies) and probes once per change.</summary>
    public AdmittedTable With(ReadOnlySpan<Change> changes)
    {
        var builder = new Builder(this, Positions + changes.Length);
        foreach (var change in changes)
        {
            if (change.Removed)
            {
                builder.Remove(EntryOf(change.Flow, 0, 0));
            }
            else
            {
                builder.Set(EntryOf(change.Flow, change.Bits, change.Offload));
            }
        }
        return builder.ToTable();
    }

    /// <summary>An address's IPv4 bits, big-endian (its first four bytes for any other address).</summary>
    internal static uint V4(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
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

    /// <summary>The position holding the probe's flow, removed or not, or −1.</summary>
    private static int Find(Entry[] entries, ulong[] slots, int mask, in Entry probe)
    {
        for (int slot = (int)probe.Hash & mask; ; slot = (slot + 1) & mask)
        {
            ulong value = slots[slot];
            if (value == 0)
            {
                return -1;
            }
            if ((uint)(value >> 32) == probe.Hash)
            {
                int p = (int)(uint)value - 1;
                ref var entry = ref entries[p];
                if (entry.Wide == probe.Wide && (probe.Wide
                        ? entry.Flow.Source.Equals(probe.Flow.Source) && entry.Flow.Group.Equals(probe.Flow.Group)
                        : entry.Key == probe.Key))
                {
                    return p;
                }
            }
        }
    }

    /// <summary>Fills a new table, starting from a copy of another; the table it gives is never written again.</summary>
    private sealed class Builder
    {
        private Entry[] _entries;
        private int _positions;
        private int _count;
        private ulong[] _slots;
        private int _mask;

        public Builder(AdmittedTable from, int capacity)
        {
            _entries = new Entry[Math.Max(capacity, from.Positions)];
            Array.Copy(from._entries, _entries, from.Positions);
            _positions = from.Positions;
            _count = from.Count;
            if (from.Positions > 0 && _entries.Length * 2 <= from._slots.Length)
            {
                _slots = (ulong[])from._slots.Clone();
                _mask = from._mask;
            }
            else
            {
                _slots = [];
                Index();
            }
        }

        /// <summary>Adds the entry, or gives the flow already there (or taken out) the entry's values.</summary>
        public void Set(in Entry entry)
        {
            int p = Find(_entries, _slots, _mask, in entry);
            if (p >= 0)
            {
                ref var there = ref _entries[p];
                there.Bits = entry.Bits;
                there.Offload = entry.Offload;
                if (there.Removed)
                {
                    there.Removed = false;
                    _count++;
                }
                return;
            }
            if (_positions == _entries.Length)
            {
                Array.Resize(ref _entries, Math.Max(16, _positions * 2));
                Index();
            }
            _entries[_positions++] = entry;
            _count++;
            Insert(_positions - 1);
        }

        public void Remove(in Entry probe)
        {
            int p = Find(_entries, _slots, _mask, in probe);
            if (p >= 0 && !_entries[p].Removed)
            {
                _entries[p].Removed = true;
                _count--;
            }
        }

        public AdmittedTable ToTable()
        {
            if (_count == 0)
            {
                return Empty;
            }
            int holes = _positions - _count;
            if (holes > Math.Max(16, _positions / 4))
            {
                // Without the holes, in the same order.
                int live = 0;
                for (int p = 0; p < _positions; p++)
                {
                    if (!_entries[p].Removed)
                    {
                        _entries[live++] = _entries[p];
                    }
                }
                Array.Clear(_entries, live, _positions - live);
                _positions = live;
                Index();
            }
            return new(_entries, _positions, _count, _slots, _mask);
        }

        /// <summary>A new index sized for the entries' array, of the positions so far.</summary>
        private void Index()
        {
            int size = 16;
            while (size < _entries.Length * 2)
            {
                size <<= 1;
            }
            _slots = new ulong[size];
            _mask = size - 1;
            for (int p = 0; p < _positions; p++)
            {
                Insert(p);
            }
        }

        private void Insert(int p)
        {
            uint hash = _entries[p].Hash;
            int slot = (int)hash & _mask;
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & _mask;
            }
            _slots[slot] = (ulong)hash << 32 | (uint)(p + 1);
        }
    }
}
