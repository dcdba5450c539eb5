using System.Collections.Immutable;
using System.Net;

namespace IngestCluster.Node.Sources;

/// <summary>Relays that failed, each held down until a time (RFC 8777 §4.2.2 asks for minutes; docs/protocols.md: 3–10).</summary>
public sealed record RelayHoldDowns(ImmutableDictionary<IPEndPoint, DateTimeOffset> Until)
{
    public static readonly RelayHoldDowns None = new(ImmutableDictionary<IPEndPoint, DateTimeOffset>.Empty);

    public bool IsHeldDown(IPEndPoint relay, DateTimeOffset now) => Until.TryGetValue(relay, out var until) && until > now;

    /// <summary>Holds <paramref name="relay"/> down until <paramref name="until"/> (or longer if it already was).</summary>
    public RelayHoldDowns Add(IPEndPoint relay, DateTimeOffset until) =>
        Until.TryGetValue(relay, out var existing) && existing >= until ? this : new(Until.SetItem(relay, until));

    /// <summary>Forgets hold-downs that have ended.</summary>
    public RelayHoldDowns Prune(DateTimeOffset now)
    {
        var ended = Until.Where(kv => kv.Value <= now).Select(kv => kv.Key).ToList();
        return ended.Count == 0 ? this : new(Until.RemoveRange(ended));
    }

    /// <summary>The hold-downs still running at <paramref name="now"/>, soonest end first.</summary>
    public IEnumerable<KeyValuePair<IPEndPoint, DateTimeOffset>> Active(DateTimeOffset now) =>
        Until.Where(kv => kv.Value > now).OrderBy(kv => kv.Value).ThenBy(kv => kv.Key.ToString(), StringComparer.Ordinal);
}

/// <summary>
/// Which relay to try (RFC 8777 §4.2.1 and §4.2.2): lowest precedence first, a random choice among equal
/// precedences, the next one when a relay fails, skipping relays that are held down.
/// </summary>
public static class RelaySelection
{
    /// <summary>The order to try <paramref name="candidates"/> in: by precedence, shuffled within each precedence.
    /// Duplicate relays keep their first (lowest-precedence) entry.</summary>
    public static ImmutableArray<RelayCandidate> Order(IEnumerable<RelayCandidate> candidates, Random random)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(random);
        var ordered = ImmutableArray.CreateBuilder<RelayCandidate>();
        var seen = new HashSet<IPEndPoint>();
        foreach (var level in candidates.GroupBy(c => c.Precedence).OrderBy(g => g.Key))
        {
            var shuffled = level.ToArray();
            random.Shuffle(shuffled);
            foreach (var candidate in shuffled)
            {
                if (seen.Add(candidate.Relay))
                {
                    ordered.Add(candidate);
                }
            }
        }
        return ordered.ToImmutable();
    }

    /// <summary>The index of the first candidate at or after <paramref name="start"/> that is not held down at
    /// <paramref name="now"/>, or -1.</summary>
    public static int NextUsable(ImmutableArray<RelayCandidate> ordered, int start, RelayHoldDowns holdDowns, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(holdDowns);
        for (int i = Math.Max(0, start); i < ordered.Length; i++)
        {
            if (!holdDowns.IsHeldDown(ordered[i].Relay, now))
            {
                return i;
            }
        }
        return -1;
    }
}
