using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

// How one evaluation runs. It is written for 10,000 flows and more: each demanded flow is looked up once in the
// admitted set's flat table (AdmittedTable: a probe compares a 64-bit (S,G), where an ImmutableDictionary lookup
// costs about 100 ns), the table is walked only when some admitted flow is not demanded, the demanded flows that
// are not admitted are joined with the hold-downs through an open-addressing table, each pass sorts once on a
// 32-byte key, the per-source bookkeeping of the sibling rule is
// built only when something does not fit or is blocked, and scratch arrays are rented (fresh ones would land on the
// large-object heap and cost a gen-2 collection nearly every evaluation).
public static partial class BandwidthPolicy
{
    private const byte Undecided = 0;
    private const byte Accepted = 1;
    private const byte Rejected = 2;

    private enum Kind : byte
    {
        /// <summary>Demanded, not admitted, not held down, bitrate known: pass 2 decides it.</summary>
        Candidate,
        /// <summary>Demanded and admitted: pass 1 keeps or drops it.</summary>
        Kept,
        /// <summary>Admitted, nobody demands it, within its grace: counts in pass 1, outside the sibling rule (we do
        /// not know its priority any more).</summary>
        Grace,
        /// <summary>Demanded, not admitted, held down now: not reconsidered, but it holds back its lower-priority
        /// siblings.</summary>
        HeldDown,
        /// <summary>Demanded, not admitted, bitrate unknown: blocked, and holds back its lower-priority siblings.</summary>
        NoMetadata,
    }

    private struct Item
    {
        public SourceGroup Flow;
        public long Bitrate;
        public long Offload;
        public long Priority;
        public int Population;
        /// <summary>Dense index of its source, or −1 (outside the sibling rule, or not indexed yet).</summary>
        public int Source;
        public Kind Kind;
        public byte State;
        public bool Known;
        public bool Admitted;
        public bool Held;
    }

    /// <summary>Rule 3 as one value: larger offload first, then smaller bitrate, then (S,G) in address order
    /// (<paramref name="flowOrder"/>). Admitted flows and candidates are ranked in separate passes, so "admitted
    /// first" needs no field.</summary>
    private readonly struct RankKey(long offload, long bitrate, ulong flowOrder, int index) : IComparable<RankKey>
    {
        private readonly ulong _inverseOffload = ~(ulong)offload;
        private readonly ulong _bitrate = (ulong)bitrate;
        private readonly ulong _flowOrder = flowOrder;
        public readonly int Index = index;

        public int CompareTo(RankKey other)
        {
            if (_inverseOffload != other._inverseOffload)
            {
                return _inverseOffload < other._inverseOffload ? -1 : 1;
            }
            if (_bitrate != other._bitrate)
            {
                return _bitrate < other._bitrate ? -1 : 1;
            }
            return _flowOrder.CompareTo(other._flowOrder);
        }
    }

    /// <summary>An address as a sortable value: IPv4 before IPv6, then numerically, which is byte by byte.</summary>
    private readonly struct AddressKey : IComparable<AddressKey>
    {
        private readonly UInt128 _value;
        private readonly bool _v6;

        public AddressKey(IPAddress address)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out int written);
            _v6 = written == 16;
            _value = _v6 ? BinaryPrimitives.ReadUInt128BigEndian(bytes) : BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }

        public int CompareTo(AddressKey other) =>
            _v6 != other._v6 ? (_v6 ? 1 : -1) : _value.CompareTo(other._value);
    }

    /// <summary>(S,G) in address order, source first: the last tie-break of the rank, and the order of lists that
    /// have no rank.</summary>
    private static int CompareFlows(SourceGroup x, SourceGroup y)
    {
        int c = new AddressKey(x.Source).CompareTo(new AddressKey(y.Source));
        return c != 0 ? c : new AddressKey(x.Group).CompareTo(new AddressKey(y.Group));
    }

    /// <summary>
    /// Open addressing from a key to an item index, sized once per evaluation. Keys are flows (S,G) or sources
    /// (S alone); <see cref="IPAddress"/> caches its hash code, so probing costs a few nanoseconds.
    /// </summary>
    private sealed class ProbeTable : IDisposable
    {
        // A slot is empty (0) or holds the key's hash in the high half and the item index + 1 in the low half, so
        // a probe past another key never reads an item.
        private readonly ulong[] _slots;
        private readonly int _mask;

        public ProbeTable(int count)
        {
            int size = 16;
            while (size < count * 2)
            {
                size <<= 1;
            }
            _slots = ArrayPool<ulong>.Shared.Rent(size);
            Array.Clear(_slots, 0, size);
            _mask = size - 1;
        }

        public void Dispose() => ArrayPool<ulong>.Shared.Return(_slots);

        /// <summary>The item whose flow is <paramref name="flow"/>, or −1; with <paramref name="add"/> ≥ 0, adds
        /// that item when none is there.</summary>
        public int Flow(Item[] items, SourceGroup flow, int add = -1)
        {
            uint hash = Spread(((uint)flow.Source.GetHashCode() * 0x9E3779B1u) ^ (uint)flow.Group.GetHashCode());
            for (int slot = (int)hash & _mask; ; slot = (slot + 1) & _mask)
            {
                ulong entry = _slots[slot];
                if (entry == 0)
                {
                    if (add >= 0)
                    {
                        _slots[slot] = (ulong)hash << 32 | (uint)(add + 1);
                    }
                    return -1;
                }
                if ((uint)(entry >> 32) == hash)
                {
                    int item = (int)(uint)entry - 1;
                    if (items[item].Flow.Source.Equals(flow.Source) && items[item].Flow.Group.Equals(flow.Group))
                    {
                        return item;
                    }
                }
            }
        }

        /// <summary>The first item added with source <paramref name="source"/>; adds <paramref name="item"/> (and
        /// returns it) when there is none.</summary>
        public int Source(Item[] items, IPAddress source, int item)
        {
            uint hash = Spread((uint)source.GetHashCode());
            for (int slot = (int)hash & _mask; ; slot = (slot + 1) & _mask)
            {
                ulong entry = _slots[slot];
                if (entry == 0)
                {
                    _slots[slot] = (ulong)hash << 32 | (uint)(item + 1);
                    return item;
                }
                if ((uint)(entry >> 32) == hash && items[(int)(uint)entry - 1].Flow.Source.Equals(source))
                {
                    return (int)(uint)entry - 1;
                }
            }
        }

        private static uint Spread(uint h)
        {
            h ^= h >> 16;
            h *= 0x85EBCA6Bu;
            return h ^ (h >> 13);
        }
    }

    /// <summary>Per-source bookkeeping of the sibling rule.</summary>
    private struct SourceState
    {
        /// <summary>The highest priority blocked or dropped so far (both passes, and the held-down and unknown
        /// flows), and the first such flow in address order: every lower priority goes with it.</summary>
        public long RejectedPriority;
        public int RejectedItem;
        /// <summary>This pass: the lowest accepted priority and the accepted total.</summary>
        public long AcceptedPriority;
        public Int128 AcceptedSum;
        /// <summary>This pass: where its items start in <c>_members</c> (highest priority first), how many, and
        /// how many from the start are known accepted.</summary>
        public int Start;
        public int Count;
        public int Scan;
    }

    private sealed class Evaluation(PolicyInput input) : IDisposable
    {
        private readonly DateTimeOffset _now = input.Now;
        private readonly DateTimeOffset _until = input.Now + input.BlockedHoldDown;
        private Item[] _items = [];
        private int _count;

        // The sibling rule's state, built on first need.
        private SourceState[] _sources = [];
        private int _sourceCount;
        private int[] _members = [];
        private int[] _levelStart = [];
        private Int128[] _higherSum = [];
        private long[] _needed = [];
        private long[] _left = [];

        private readonly List<FlowRelease> _released = [];
        private readonly List<Array> _rented = [];

        private T[] Rent<T>(int length)
        {
            var array = ArrayPool<T>.Shared.Rent(Math.Max(length, 1));
            _rented.Add(array);
            return array;
        }

        public void Dispose()
        {
            if (_items.Length > 0)
            {
                ArrayPool<Item>.Shared.Return(_items, clearArray: true);
            }
            foreach (var array in _rented)
            {
                switch (array)
                {
                    case RankKey[] keys:
                        ArrayPool<RankKey>.Shared.Return(keys);
                        break;
                    case int[] ints:
                        ArrayPool<int>.Shared.Return(ints);
                        break;
                    case long[] longs:
                        ArrayPool<long>.Shared.Return(longs);
                        break;
                    case ulong[] ulongs:
                        ArrayPool<ulong>.Shared.Return(ulongs);
                        break;
                    case Int128[] sums:
                        ArrayPool<Int128>.Shared.Return(sums);
                        break;
                    case SourceState[] sources:
                        ArrayPool<SourceState>.Shared.Return(sources);
                        break;
                }
            }
        }

        public PolicyDecision Run()
        {
            var demanded = input.Demanded.IsDefault ? [] : input.Demanded;
            var admitted = input.Admitted.Table;
            // Where each demanded flow is in the admitted table (−1: not admitted), and for each admitted flow the
            // demanded one that is it (+1; 0: not demanded).
            var at = Rent<int>(demanded.Length);
            var demandedAs = Rent<int>(admitted.Positions);
            Array.Clear(demandedAs, 0, admitted.Positions);
            int matched = 0;
            for (int i = 0; i < demanded.Length; i++)
            {
                int p = at[i] = admitted.Find(demanded[i].Flow);
                if (p >= 0)
                {
                    if (demandedAs[p] != 0)
                    {
                        throw DemandedTwice(demanded[i].Flow);
                    }
                    demandedAs[p] = i + 1;
                    matched++;
                }
            }
            // Rented clean (cleared when returned), so every field starts at its default.
            _items = ArrayPool<Item>.Shared.Rent(Math.Max(demanded.Length + admitted.Count - matched, 1));
            Join(demanded, admitted, at, demandedAs, matched);

            // Pass 1: the admitted flows that stay. Nothing to decide while they fit.
            Int128 limit = input.Limit.BitsPerSecond;
            Int128 used = 0;
            int keptCount = 0;
            for (int i = 0; i < _count; i++)
            {
                if (_items[i].Kind is Kind.Kept or Kind.Grace)
                {
                    used += _items[i].Bitrate;
                    keptCount++;
                }
            }
            _released.Sort((x, y) => CompareFlows(x.Flow, y.Flow));
            bool anyDropped = false;
            int[] rankedKept = [];
            int dropped = 0;
            if (used > limit)
            {
                rankedKept = Rank(Kind.Kept, Kind.Grace, keptCount);
                var remaining = limit;
                RunPass(rankedKept, Kind.Kept, Kind.Grace, ref remaining);
                used = limit - remaining;
                foreach (int i in rankedKept)
                {
                    dropped += _items[i].State == Rejected ? 1 : 0;
                }
            }
            var release = ImmutableArray.CreateBuilder<FlowRelease>(_released.Count + dropped);
            release.AddRange(_released);
            {
                foreach (int i in rankedKept)
                {
                    if (_items[i].State == Rejected)
                    {
                        anyDropped |= _items[i].Kind == Kind.Kept;
                        var reason = IsBelowRejectedSibling(i) ? ReleaseReason.SiblingBlocked : ReleaseReason.LimitLowered;
                        release.Add(new FlowRelease(_items[i].Flow, reason, _until));
                    }
                }
            }

            // Pass 2: the new candidates, in what is left.
            int candidates = 0;
            Int128 demand = 0;
            bool anyBlocked = anyDropped;
            for (int i = 0; i < _count; i++)
            {
                if (_items[i].Kind == Kind.Candidate)
                {
                    candidates++;
                    demand += _items[i].Bitrate;
                }
                anyBlocked |= _items[i].Kind is Kind.HeldDown or Kind.NoMetadata;
            }
            int unknownCount = 0;
            for (int i = 0; i < _count; i++)
            {
                unknownCount += _items[i].Kind == Kind.NoMetadata ? 1 : 0;
            }
            // The result arrays are sized exactly (each builder is then moved, not copied): at 10,000 flows they
            // are on the large-object heap, and a spare copy costs a gen-2 collection.
            int[] rankedCandidates = [];
            int rejected = 0;
            if (candidates > 0)
            {
                rankedCandidates = Rank(Kind.Candidate, Kind.Candidate, candidates);
                var remaining = limit - used;
                if (anyBlocked || demand > remaining)
                {
                    IndexSources();
                    for (int i = 0; i < _count; i++)
                    {
                        if (_items[i].Kind is Kind.HeldDown or Kind.NoMetadata)
                        {
                            NoteRejected(i);
                        }
                    }
                    RunPass(rankedCandidates, Kind.Candidate, Kind.Candidate, ref remaining);
                    foreach (int i in rankedCandidates)
                    {
                        rejected += _items[i].State == Rejected ? 1 : 0;
                    }
                }
            }
            var admit = ImmutableArray.CreateBuilder<FlowAdmission>(candidates - rejected);
            var block = ImmutableArray.CreateBuilder<FlowBlock>(rejected + unknownCount);
            foreach (int i in rankedCandidates)
            {
                ref var item = ref _items[i];
                if (item.State == Rejected)
                {
                    block.Add(BlockOf(i));
                }
                else
                {
                    // Accepted, or left undecided because everything fits.
                    used += item.Bitrate;
                    admit.Add(new FlowAdmission(item.Flow, new Bitrate(item.Bitrate), item.Offload));
                }
            }
            var unknown = new List<SourceGroup>(unknownCount);
            for (int i = 0; i < _count; i++)
            {
                if (_items[i].Kind == Kind.NoMetadata)
                {
                    unknown.Add(_items[i].Flow);
                }
            }
            unknown.Sort(CompareFlows);
            foreach (var flow in unknown)
            {
                block.Add(new FlowBlock(flow, _until, BlockReason.NoMetadata, default, default, null));
            }

            return new PolicyDecision(admit.DrainToImmutable(), block.DrainToImmutable(), release.DrainToImmutable(), new Bitrate((long)used));
        }

        /// <summary>
        /// Fills the items: the demanded flows, joined with the admitted (<paramref name="at"/>) and held-down ones,
        /// and the admitted flows nobody demands that are still in their grace (rule 4); those past it, or left,
        /// are released here.
        /// </summary>
        private void Join(ImmutableArray<DemandedFlow> demanded, AdmittedTable admitted, int[] at, int[] demandedAs, int matched)
        {
            // The demanded flows that are not admitted: checked for duplicates, and joined with the hold-downs
            // (which do not matter for an admitted flow).
            using var table = new ProbeTable(demanded.Length - matched);
            foreach (var flow in demanded)
            {
                int i = _count++;
                ref var item = ref _items[i];
                item.Flow = flow.Flow;
                item.Population = flow.Population;
                item.Priority = flow.Metadata?.Priority ?? FlowMetadata.DefaultPriority;
                item.Source = -1;
                if (BitrateOf(flow, input.DefaultBitrate) is { } bitrate)
                {
                    item.Bitrate = bitrate.BitsPerSecond;
                    item.Known = true;
                }
                if (at[i] >= 0)
                {
                    item.Admitted = true;
                    if (!item.Known)
                    {
                        // Its metadata went away (a DORMS outage, a default removed): keep what it was admitted with.
                        item.Bitrate = admitted[at[i]].Bits;
                        item.Known = true;
                    }
                }
                else if (table.Flow(_items, flow.Flow, add: i) >= 0)
                {
                    throw DemandedTwice(flow.Flow);
                }
            }
            int demandedCount = _count;

            // All demanded (every tick once the flows are in): nothing to walk.
            for (int p = 0; p < admitted.Positions && matched < admitted.Count; p++)
            {
                ref readonly var entry = ref admitted[p];
                if (demandedAs[p] != 0 || admitted.IsRemoved(p))
                {
                    continue;
                }
                if (input.ExplicitlyLeft.Contains(entry.Flow))
                {
                    _released.Add(new FlowRelease(entry.Flow, ReleaseReason.Left));
                }
                else if (_now - input.Admitted.LastClaimed(entry.Flow) >= input.DemandGrace)
                {
                    _released.Add(new FlowRelease(entry.Flow, ReleaseReason.Unclaimed));
                }
                else
                {
                    ref var item = ref _items[_count++];
                    item.Flow = entry.Flow;
                    item.Kind = Kind.Grace;
                    item.Bitrate = entry.Bits;
                    item.Offload = entry.Offload;
                    item.Priority = FlowMetadata.DefaultPriority;
                    item.Source = -1;
                }
            }

            if (matched < demandedCount)
            {
                foreach (var (flow, until) in input.HeldDownUntil)
                {
                    if (until > _now && table.Flow(_items, flow) is var i and >= 0)
                    {
                        _items[i].Held = true;
                    }
                }
            }

            for (int i = 0; i < demandedCount; i++)
            {
                ref var item = ref _items[i];
                item.Kind = item.Admitted ? Kind.Kept
                    : item.Held ? Kind.HeldDown
                    : !item.Known ? Kind.NoMetadata
                    : Kind.Candidate;
                item.Offload = OffloadOf(item.Population, item.Bitrate);
            }
        }

        /// <summary>The items of the given kinds in rank order: the pass's one sort.</summary>
        private int[] Rank(Kind a, Kind b, int count)
        {
            bool allV4 = true;
            for (int i = 0; i < _count && allV4; i++)
            {
                if (_items[i].Kind == a || _items[i].Kind == b)
                {
                    allV4 = _items[i].Flow.Source.AddressFamily == AddressFamily.InterNetwork &&
                        _items[i].Flow.Group.AddressFamily == AddressFamily.InterNetwork;
                }
            }
            ulong[]? flowOrder = allV4 ? null : FlowOrder(a, b, count);

            var keys = Rent<RankKey>(count);
            int k = 0;
            for (int i = 0; i < _count; i++)
            {
                ref var item = ref _items[i];
                if (item.Kind == a || item.Kind == b)
                {
                    ulong order = flowOrder?[i] ?? ((ulong)AdmittedTable.V4(item.Flow.Source) << 32 | AdmittedTable.V4(item.Flow.Group));
                    keys[k++] = new RankKey(item.Offload, item.Bitrate, order, i);
                }
            }
            Array.Sort(keys, 0, count);
            var ranked = new int[count];
            for (int j = 0; j < count; j++)
            {
                ranked[j] = keys[j].Index;
            }
            return ranked;
        }

        /// <summary>With IPv6 in the pass, (S,G) does not fit in 64 bits: number the flows in address order instead.</summary>
        private ulong[] FlowOrder(Kind a, Kind b, int count)
        {
            var byFlow = Rent<int>(count);
            int k = 0;
            for (int i = 0; i < _count; i++)
            {
                if (_items[i].Kind == a || _items[i].Kind == b)
                {
                    byFlow[k++] = i;
                }
            }
            var items = _items;
            byFlow.AsSpan(0, count).Sort((x, y) => CompareFlows(items[x].Flow, items[y].Flow));
            var order = Rent<ulong>(_count);
            for (int j = 0; j < count; j++)
            {
                order[byFlow[j]] = (ulong)j;
            }
            return order;
        }

        /// <summary>
        /// One greedy pass over the ranked items against <paramref name="remaining"/>. An item is accepted together
        /// with its source's not yet accepted higher-priority items when they all fit; else it is rejected, and so
        /// is every lower-priority item of its source after it. This picks the feasible set that comes first in
        /// rank order.
        /// </summary>
        private void RunPass(int[] ranked, Kind a, Kind b, ref Int128 remaining)
        {
            IndexSources();
            BuildSourceLists(a, b);
            foreach (int i in ranked)
            {
                ref var item = ref _items[i];
                if (item.State != Undecided)
                {
                    continue;
                }
                if (item.Source >= 0 && item.Priority < _sources[item.Source].RejectedPriority)
                {
                    item.State = Rejected;
                    continue;
                }
                Int128 needed = item.Bitrate;
                if (item.Source >= 0 && _sources[item.Source].AcceptedPriority > item.Priority)
                {
                    // Every accepted item of the source has a higher priority than this one, so what its source
                    // has above this priority and is not accepted yet must come along.
                    needed += _higherSum[i] - _sources[item.Source].AcceptedSum;
                }
                if (needed <= remaining)
                {
                    remaining -= needed;
                    if (item.Source >= 0)
                    {
                        ref var source = ref _sources[item.Source];
                        for (; source.Scan < _levelStart[i]; source.Scan++)
                        {
                            _items[_members[source.Start + source.Scan]].State = Accepted;
                        }
                        source.AcceptedSum += needed;
                        source.AcceptedPriority = Math.Min(source.AcceptedPriority, item.Priority);
                    }
                    item.State = Accepted;
                }
                else
                {
                    item.State = Rejected;
                    _needed[i] = Clamp(needed);
                    _left[i] = Clamp(remaining);
                    NoteRejected(i);
                }
            }
        }

        /// <summary>Numbers the sources of the items under the sibling rule (once per evaluation).</summary>
        private void IndexSources()
        {
            if (_members.Length > 0 || _count == 0)
            {
                return;
            }
            using var table = new ProbeTable(_count);
            int sources = 0;
            for (int i = 0; i < _count; i++)
            {
                ref var item = ref _items[i];
                if (item.Kind != Kind.Grace)
                {
                    int first = table.Source(_items, item.Flow.Source, i);
                    item.Source = first == i ? sources++ : _items[first].Source;
                }
            }
            _sourceCount = sources;
            _sources = Rent<SourceState>(sources);
            for (int s = 0; s < sources; s++)
            {
                _sources[s] = new SourceState { RejectedPriority = long.MinValue, RejectedItem = -1 };
            }
            _members = Rent<int>(_count);
            _levelStart = Rent<int>(_count);
            _higherSum = Rent<Int128>(_count);
            _needed = Rent<long>(_count);
            _left = Rent<long>(_count);
        }

        /// <summary>Lays out each source's items of this pass, highest priority first, with for each item where
        /// its priority starts and the total of the higher priorities.</summary>
        private void BuildSourceLists(Kind a, Kind b)
        {
            for (int s = 0; s < _sourceCount; s++)
            {
                ref var source = ref _sources[s];
                source.Count = 0;
                source.Scan = 0;
                source.AcceptedPriority = long.MaxValue;
                source.AcceptedSum = 0;
            }
            for (int i = 0; i < _count; i++)
            {
                if ((_items[i].Kind == a || _items[i].Kind == b) && _items[i].Source >= 0)
                {
                    _sources[_items[i].Source].Count++;
                }
            }
            int start = 0;
            for (int s = 0; s < _sourceCount; s++)
            {
                _sources[s].Start = start;
                start += _sources[s].Count;
                _sources[s].Count = 0;
            }
            for (int i = 0; i < _count; i++)
            {
                if ((_items[i].Kind == a || _items[i].Kind == b) && _items[i].Source >= 0)
                {
                    ref var source = ref _sources[_items[i].Source];
                    _members[source.Start + source.Count++] = i;
                }
            }
            var items = _items;
            Comparison<int> byPriority = (x, y) => items[y].Priority.CompareTo(items[x].Priority);
            for (int s = 0; s < _sourceCount; s++)
            {
                var members = _members.AsSpan(_sources[s].Start, _sources[s].Count);
                if (members.Length > 1 && !SamePriority(members))
                {
                    members.Sort(byPriority);
                }
                Int128 sum = 0;
                Int128 levelSum = 0;
                int levelStart = 0;
                for (int p = 0; p < members.Length; p++)
                {
                    int i = members[p];
                    if (p > 0 && items[i].Priority != items[members[p - 1]].Priority)
                    {
                        levelStart = p;
                        levelSum = sum;
                    }
                    _levelStart[i] = levelStart;
                    _higherSum[i] = levelSum;
                    sum += items[i].Bitrate;
                }
            }
        }

        private bool SamePriority(ReadOnlySpan<int> members)
        {
            for (int p = 1; p < members.Length; p++)
            {
                if (_items[members[p]].Priority != _items[members[0]].Priority)
                {
                    return false;
                }
            }
            return true;
        }

        private void NoteRejected(int i)
        {
            ref var item = ref _items[i];
            if (item.Source < 0)
            {
                return;
            }
            ref var source = ref _sources[item.Source];
            if (item.Priority > source.RejectedPriority ||
                (item.Priority == source.RejectedPriority && CompareFlows(item.Flow, _items[source.RejectedItem].Flow) < 0))
            {
                source.RejectedPriority = item.Priority;
                source.RejectedItem = i;
            }
        }

        private bool IsBelowRejectedSibling(int i) =>
            _items[i].Source >= 0 && _items[i].Priority < _sources[_items[i].Source].RejectedPriority;

        private FlowBlock BlockOf(int i)
        {
            ref var item = ref _items[i];
            if (IsBelowRejectedSibling(i))
            {
                var sibling = _items[_sources[item.Source].RejectedItem].Flow;
                return new FlowBlock(item.Flow, _until, BlockReason.SiblingBlocked, default, default, sibling);
            }
            return new FlowBlock(item.Flow, _until, BlockReason.OverLimit, new Bitrate(_needed[i]), new Bitrate(_left[i]), null);
        }

        private ArgumentException DemandedTwice(SourceGroup flow) =>
            new($"{flow} is demanded twice: merge the origins' demand first", nameof(input));

        private static long Clamp(Int128 bits) => bits > long.MaxValue ? long.MaxValue : (long)bits;
    }
}
