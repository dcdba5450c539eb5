using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

/// <summary>
/// The admitted flows' bitrates and offloads as one flat array with an open-addressing index on (S,G), immutable
/// once built: what <see cref="BandwidthPolicy"/> joins the demanded flows with, by probing it once per demanded
/// flow and walking it only when some admitted flow is not demanded. The order of the entries is the order they
/// were built in (never a hash order); the index's hash is seeded per process, which changes nothing but the slots.
/// </summary>
internal sealed class AdmittedTable
{
    /// <summary>One admitted flow. <see cref="Key"/> is (S,G) as 64 bits when both are IPv4 (<see cref="Wide"/>
    /// false), so that a probe compares one number and reads no address.</summary>
    internal struct Entry
    {
        public SourceGroup Flow;
        public ulong Key;
        public long Bits;
        public long Offload;
        public uint Hash;
        public bool Wide;
    }

    public static readonly AdmittedTable Empty = new([], 0, new ulong[1], 0);

    private static readonly ulong Seed = (ulong)Random.Shared.NextInt64();

    private readonly Entry[] _entries;
    // A slot is empty (0) or holds the entry's hash in the high half and its position + 1 in the low half.
    private readonly ulong[] _slots;
    private readonly int _mask;

    private AdmittedTable(Entry[] entries, int count, ulong[] slots, int mask)
    {
        _entries = entries;
        Count = count;
        _slots = slots;
        _mask = mask;
    }

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
        return Find(_entries, _slots, _mask, in probe);
    }

    /// <summary>The table of these flows in this order; a flow given twice keeps its first place and its last values.</summary>
    public static AdmittedTable Build(IEnumerable<(SourceGroup Flow, long Bits, long Offload)> flows, int capacity)
    {
        var builder = new Builder(capacity);
        foreach (var (flow, bits, offload) in flows)
        {
            builder.Set(EntryOf(flow, bits, offload));
        }
        return builder.ToTable();
    }

    /// <summary>This table with some entries given new values or removed (<paramref name="updates"/>, by position,
    /// ascending) and new flows, none of them in it, appended in the given order. Entries keep their keys and
    /// hashes.</summary>
    public AdmittedTable With(List<(int At, long Bits, long Offload, bool Removed)> updates, List<(SourceGroup Flow, long Bits, long Offload)> added)
    {
        var builder = new Builder(Count + added.Count);
        int u = 0;
        for (int p = 0; p < Count; p++)
        {
            var entry = _entries[p];
            if (u < updates.Count && updates[u].At == p)
            {
                var update = updates[u++];
                if (update.Removed)
                {
                    continue;
                }
                entry.Bits = update.Bits;
                entry.Offload = update.Offload;
            }
            builder.Append(in entry);
        }
        foreach (var (flow, bits, offload) in added)
        {
            builder.Append(EntryOf(flow, bits, offload));
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

    /// <summary>Fills a table once; the table it gives is never written again.</summary>
    private sealed class Builder
    {
        private Entry[] _entries;
        private int _count;
        private ulong[] _slots = [];
        private int _mask;

        public Builder(int capacity)
        {
            _entries = new Entry[Math.Max(capacity, 0)];
            Index(Math.Max(capacity, 1));
        }

        /// <summary>Adds the entry, or gives the flow already there the entry's values.</summary>
        public void Set(in Entry entry)
        {
            int p = Find(_entries, _slots, _mask, in entry);
            if (p >= 0)
            {
                _entries[p].Bits = entry.Bits;
                _entries[p].Offload = entry.Offload;
                return;
            }
            Append(in entry);
        }

        /// <summary>Adds an entry whose flow is not in the table yet.</summary>
        public void Append(in Entry entry)
        {
            if (_count == _entries.Length)
            {
                Array.Resize(ref _entries, Math.Max(16, _count * 2));
                Index(_entries.Length);
            }
            _entries[_count++] = entry;
            Insert(_count - 1);
        }

        public AdmittedTable ToTable() => _count == 0 ? Empty : new(_entries, _count, _slots, _mask);

        private void Index(int capacity)
        {
            int size = 16;
            while (size < capacity * 2)
            {
                size <<= 1;
            }
            if (size == _slots.Length)
            {
                return;
            }
            _slots = new ulong[size];
            _mask = size - 1;
            for (int p = 0; p < _count; p++)
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
