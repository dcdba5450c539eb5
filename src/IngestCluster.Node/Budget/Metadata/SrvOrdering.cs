using System.Collections.Immutable;

namespace IngestCluster.Node.Budget.Metadata;

/// <summary>One SRV record's target: where a DORMS server listens.</summary>
/// <param name="Host">The target name, without the final dot.</param>
public sealed record SrvTarget(ushort Priority, ushort Weight, string Host, ushort Port)
{
    public override string ToString() => $"{Host}:{Port} (priority {Priority}, weight {Weight})";
}

/// <summary>
/// The order to try SRV targets in (RFC 2782, "Usage rules"): lowest priority first; within a priority, a weighted
/// random choice, made again for what is left after each pick.
/// </summary>
public static class SrvOrdering
{
    public static ImmutableArray<SrvTarget> Order(IEnumerable<SrvTarget> targets, Random random)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(random);
        var ordered = ImmutableArray.CreateBuilder<SrvTarget>();
        foreach (var level in targets.GroupBy(t => t.Priority).OrderBy(g => g.Key))
        {
            // "Arrange all SRV RRs (that have not been ordered yet) in any order, except that all those with weight 0
            // are placed at the beginning of the list": shuffled, so that zero weights are a fair choice too.
            var left = level.ToArray();
            random.Shuffle(left);
            var pending = left.Where(t => t.Weight == 0).Concat(left.Where(t => t.Weight != 0)).ToList();
            while (pending.Count > 0)
            {
                // "Compute the sum of the weights ... choose a uniform random number between 0 and the sum
                // (inclusive), and select the RR whose running sum value is the first in the selected order which
                // is greater than or equal to the random number selected."
                long sum = pending.Sum(t => (long)t.Weight);
                long pick = random.NextInt64(0, sum + 1);
                long running = 0;
                int chosen = pending.Count - 1;
                for (int i = 0; i < pending.Count; i++)
                {
                    running += pending[i].Weight;
                    if (running >= pick)
                    {
                        chosen = i;
                        break;
                    }
                }
                ordered.Add(pending[chosen]);
                pending.RemoveAt(chosen);
            }
        }
        return ordered.ToImmutable();
    }
}
