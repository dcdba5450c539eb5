using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using IngestCluster.Node.Tunnels;

namespace IngestCluster.Node.Sources;

/// <summary>Where a source entity is. The names appear in status output.</summary>
public enum SourcePhase
{
    /// <summary>No groups wanted; about to passivate.</summary>
    Idle,
    /// <summary>Asking DNS for the relays.</summary>
    Resolving,
    /// <summary>A tunnel to a relay runs.</summary>
    Tunnelling,
    /// <summary>Waiting before the next relay or the next lookup.</summary>
    Backoff,
    /// <summary>DNS says there is no relay (no record, or type 0); looking again later.</summary>
    NoRelay,
}

/// <summary>What the source state machine is told.</summary>
public abstract record SourceInput
{
    /// <summary>The full set of groups wanted now.</summary>
    public sealed record DesiredGroups(ImmutableArray<IPAddress> Groups) : SourceInput;

    /// <summary>The lookup started as <paramref name="Attempt"/> finished.</summary>
    public sealed record Resolved(DriadOutcome Outcome, int Attempt) : SourceInput;

    /// <summary>The running tunnel's relay failed.</summary>
    public sealed record RelayFailed(IPEndPoint Relay, string Reason, TimeSpan HoldDown) : SourceInput;

    /// <summary>The wait scheduled as <paramref name="Attempt"/> is over.</summary>
    public sealed record RetryDue(int Attempt) : SourceInput;

    /// <summary>The tunnel reported a state (kept for status).</summary>
    public sealed record TunnelReported(IPEndPoint Relay, string State, string Detail) : SourceInput;

    /// <summary>A flow of this source waits for the budget (its metadata is being fetched): find the relay and open
    /// the tunnel now, joining nothing, so that an admission only has to join.</summary>
    public sealed record Prepare : SourceInput
    {
        public static readonly Prepare Instance = new();
    }

    /// <summary>The time given to a preparation (<see cref="SourceSettings.PrepareFor"/>) is over.</summary>
    public sealed record PrepareOver : SourceInput
    {
        public static readonly PrepareOver Instance = new();
    }
}

/// <summary>What the actor must do after a transition, in order.</summary>
public abstract record SourceEffect
{
    public sealed record StartResolve(int Attempt) : SourceEffect;

    public sealed record StartTunnel(TunnelProtocol.TunnelTarget Target) : SourceEffect;

    /// <summary>Tell the running tunnel the full set of groups.</summary>
    public sealed record SendGroups(ImmutableArray<IPAddress> Groups) : SourceEffect
    {
        /// <summary>By content: two sends of the same set are the same effect.</summary>
        public bool Equals(SendGroups? other) => other is not null && Groups.SequenceEqual(other.Groups);

        public override int GetHashCode() => Groups.Aggregate(0, (hash, group) => HashCode.Combine(hash, group));
    }

    public sealed record StopTunnel : SourceEffect
    {
        public static readonly StopTunnel Instance = new();
    }

    public sealed record ScheduleRetry(TimeSpan Delay, int Attempt) : SourceEffect;

    /// <summary>Give up a preparation that no groups followed after <paramref name="Delay"/>.</summary>
    public sealed record SchedulePrepareOver(TimeSpan Delay) : SourceEffect;

    public sealed record Passivate : SourceEffect
    {
        public static readonly Passivate Instance = new();
    }
}

/// <summary>
/// One source's relay choice and tunnel lifecycle as an immutable value: <see cref="Process"/> takes an input and
/// the time, and returns the next state and the effects for the actor to carry out. No I/O, no clocks of its own.
/// </summary>
public sealed record SourceState
{
    public required IPAddress Source { get; init; }

    public SourcePhase Phase { get; init; } = SourcePhase.Idle;

    public ImmutableArray<IPAddress> Groups { get; init; } = [];

    /// <summary>The relays to try, in order, from the last lookup (or an override).</summary>
    public ImmutableArray<RelayCandidate> Candidates { get; init; } = [];

    /// <summary>The next index in <see cref="Candidates"/> to try.</summary>
    public int NextIndex { get; init; }

    /// <summary>The relay of the running tunnel.</summary>
    public RelayCandidate? Current { get; init; }

    public DateTimeOffset? TunnelStartedAt { get; init; }

    public RelayHoldDowns HoldDowns { get; init; } = RelayHoldDowns.None;

    /// <summary>Bumped for every lookup and every scheduled wait; late answers for an older one are ignored.</summary>
    public int Attempt { get; init; }

    public int ConsecutiveFailures { get; init; }

    /// <summary>Why the source is where it is, for people.</summary>
    public string Detail { get; init; } = "no groups";

    /// <summary>The running tunnel's last reported state.</summary>
    public string? TunnelState { get; init; }

    /// <summary>Looking up the relay and opening the tunnel ahead of any groups (<see cref="SourceInput.Prepare"/>):
    /// the steps go on with no groups, and end with the entity if none come within
    /// <see cref="SourceSettings.PrepareFor"/>.</summary>
    public bool Preparing { get; init; }

    /// <summary>Whether the relay steps go on: groups are wanted, or a preparation runs.</summary>
    private bool Wanted => !Groups.IsEmpty || Preparing;

    public static SourceState Initial(IPAddress source) => new() { Source = source };

    public (SourceState State, ImmutableArray<SourceEffect> Effects) Process(SourceInput input, DateTimeOffset now, SourceSettings settings, Random random)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(random);
        var state = this with { HoldDowns = HoldDowns.Prune(now) };
        return input switch
        {
            SourceInput.DesiredGroups desired => state.OnDesiredGroups(desired.Groups, now, settings),
            SourceInput.Resolved resolved => state.OnResolved(resolved, now, settings, random),
            SourceInput.RelayFailed failed => state.OnRelayFailed(failed, now, settings),
            SourceInput.RetryDue due => state.OnRetryDue(due, now, settings),
            SourceInput.TunnelReported reported => state.OnTunnelReported(reported),
            SourceInput.Prepare => state.OnPrepare(now, settings),
            SourceInput.PrepareOver => state.OnPrepareOver(),
            _ => (state, []),
        };
    }

    private (SourceState, ImmutableArray<SourceEffect>) OnDesiredGroups(ImmutableArray<IPAddress> groups, DateTimeOffset now, SourceSettings settings)
    {
        groups = groups.IsDefault ? [] : [.. groups.Distinct().OrderBy(g => g.ToString(), StringComparer.Ordinal)];
        if (groups.IsEmpty)
        {
            var effects = ImmutableArray.CreateBuilder<SourceEffect>();
            if (Phase == SourcePhase.Tunnelling)
            {
                effects.Add(new SourceEffect.SendGroups([]));
                effects.Add(SourceEffect.StopTunnel.Instance);
            }
            effects.Add(SourceEffect.Passivate.Instance);
            return (this with
            {
                Phase = SourcePhase.Idle,
                Groups = [],
                Current = null,
                TunnelStartedAt = null,
                TunnelState = null,
                Attempt = Attempt + 1,
                Detail = "no groups",
                Preparing = false,
            }, effects.ToImmutable());
        }

        var next = this with { Groups = groups, Preparing = false };
        switch (Phase)
        {
            case SourcePhase.Tunnelling:
                return (next, [new SourceEffect.SendGroups(groups)]);
            case SourcePhase.Idle:
                if (settings.Overrides.ConsultBeforeDns && settings.Overrides.TryFind(Source, out var relay))
                {
                    return next.TryStart([new RelayCandidate(0, false, relay)], 0, now, settings, $"override {relay} for {Source}");
                }
                return next.Resolve();
            default:
                // Resolving, waiting: the pending step carries on with the new set.
                return (next, []);
        }
    }

    private (SourceState, ImmutableArray<SourceEffect>) Resolve()
    {
        int attempt = Attempt + 1;
        return (this with
        {
            Phase = SourcePhase.Resolving,
            Attempt = attempt,
            Candidates = [],
            NextIndex = 0,
            Current = null,
            Detail = $"looking up AMTRELAY for {Source}",
        }, [new SourceEffect.StartResolve(attempt)]);
    }

    private (SourceState, ImmutableArray<SourceEffect>) OnResolved(SourceInput.Resolved resolved, DateTimeOffset now, SourceSettings settings, Random random)
    {
        if (resolved.Attempt != Attempt || Phase != SourcePhase.Resolving || !Wanted)
        {
            return (this, []);
        }
        switch (resolved.Outcome)
        {
            case DriadOutcome.RelayCandidates found when !found.Candidates.IsEmpty:
                return TryStart(RelaySelection.Order(found.Candidates, random), 0, now, settings, found.Detail);

            case DriadOutcome.NoRecord noRecord:
                if (settings.Overrides.TryFind(Source, out var relay))
                {
                    return TryStart([new RelayCandidate(0, false, relay)], 0, now, settings, $"{noRecord.Detail}; override {relay}");
                }
                return Wait(SourcePhase.NoRelay, settings.NoRelayRetry, noRecord.Detail);

            case DriadOutcome.NoRelay noRelay:
                return Wait(SourcePhase.NoRelay, settings.NoRelayRetry, noRelay.Detail);

            default:
                var next = this with { ConsecutiveFailures = ConsecutiveFailures + 1 };
                return next.Wait(SourcePhase.Backoff, settings.Backoff(next.ConsecutiveFailures), resolved.Outcome.Detail);
        }
    }

    /// <summary>Starts the first candidate at or after <paramref name="from"/> that is not held down; if none, waits.</summary>
    private (SourceState, ImmutableArray<SourceEffect>) TryStart(
        ImmutableArray<RelayCandidate> candidates, int from, DateTimeOffset now, SourceSettings settings, string why)
    {
        int index = RelaySelection.NextUsable(candidates, from, HoldDowns, now);
        if (index < 0)
        {
            // Every candidate left is held down: wait for the first hold-down to end, then look again.
            var held = HoldDowns.Active(now).Where(kv => candidates.Skip(from).Any(c => c.Relay.Equals(kv.Key))).ToList();
            var exhausted = this with { Candidates = candidates, NextIndex = candidates.Length };
            if (held.Count > 0)
            {
                var first = held[0];
                var until = first.Value - now;
                var delay = until < settings.BackoffMin ? settings.BackoffMin : until;
                return exhausted.Wait(SourcePhase.Backoff, delay, $"relay {first.Key.Address} held down until {Stamp(first.Value)}");
            }
            var failed = exhausted with { ConsecutiveFailures = ConsecutiveFailures + 1 };
            return failed.Wait(SourcePhase.Backoff, settings.Backoff(failed.ConsecutiveFailures), "no relay candidates left");
        }

        var candidate = candidates[index];
        var target = new TunnelProtocol.TunnelTarget(Source, candidate.Relay, candidate.DiscoveryOptional);
        return (this with
        {
            Phase = SourcePhase.Tunnelling,
            Candidates = candidates,
            NextIndex = index + 1,
            Current = candidate,
            TunnelStartedAt = now,
            TunnelState = null,
            Detail = $"tunnel to relay {candidate.Relay} ({why})",
        }, [new SourceEffect.StartTunnel(target), new SourceEffect.SendGroups(Groups)]);
    }

    private (SourceState, ImmutableArray<SourceEffect>) Wait(SourcePhase phase, TimeSpan delay, string detail)
    {
        int attempt = Attempt + 1;
        return (this with { Phase = phase, Attempt = attempt, Current = null, TunnelStartedAt = null, TunnelState = null, Detail = detail },
            [new SourceEffect.ScheduleRetry(delay, attempt)]);
    }

    private (SourceState, ImmutableArray<SourceEffect>) OnRelayFailed(SourceInput.RelayFailed failed, DateTimeOffset now, SourceSettings settings)
    {
        if (Phase != SourcePhase.Tunnelling || Current is null || !Current.Relay.Equals(failed.Relay))
        {
            return (this, []);
        }
        var holdDown = failed.HoldDown > TimeSpan.Zero ? failed.HoldDown : settings.DefaultHoldDown;
        var until = now + holdDown;
        bool wasStable = TunnelStartedAt is { } started && now - started >= settings.StableAfter;
        int failures = (wasStable ? 0 : ConsecutiveFailures) + 1;
        var next = this with { HoldDowns = HoldDowns.Add(failed.Relay, until), ConsecutiveFailures = failures };
        var (waiting, effects) = next.Wait(
            SourcePhase.Backoff,
            settings.Backoff(failures),
            $"relay {failed.Relay.Address} failed ({failed.Reason}); held down until {Stamp(until)}");
        return (waiting, [SourceEffect.StopTunnel.Instance, .. effects]);
    }

    private (SourceState, ImmutableArray<SourceEffect>) OnRetryDue(SourceInput.RetryDue due, DateTimeOffset now, SourceSettings settings)
    {
        if (due.Attempt != Attempt || !Wanted || Phase is not (SourcePhase.Backoff or SourcePhase.NoRelay))
        {
            return (this, []);
        }
        if (Phase == SourcePhase.Backoff && RelaySelection.NextUsable(Candidates, NextIndex, HoldDowns, now) >= 0)
        {
            return TryStart(Candidates, NextIndex, now, settings, "next candidate");
        }
        return Resolve();
    }

    private (SourceState, ImmutableArray<SourceEffect>) OnPrepare(DateTimeOffset now, SourceSettings settings)
    {
        if (Phase != SourcePhase.Idle || !Groups.IsEmpty || Preparing || settings.PrepareFor <= TimeSpan.Zero)
        {
            // Already at work for groups (or a preparation), or preparing is off.
            return (this, []);
        }
        var preparing = this with { Preparing = true };
        var (next, effects) = settings.Overrides.ConsultBeforeDns && settings.Overrides.TryFind(Source, out var relay)
            ? preparing.TryStart([new RelayCandidate(0, false, relay)], 0, now, settings, $"override {relay} for {Source}")
            : preparing.Resolve();
        return (next with { Detail = $"preparing, before the budget decides: {next.Detail}" },
            [.. effects, new SourceEffect.SchedulePrepareOver(settings.PrepareFor)]);
    }

    private (SourceState, ImmutableArray<SourceEffect>) OnPrepareOver()
    {
        if (!Preparing || !Groups.IsEmpty)
        {
            return (this, []);
        }
        // No groups followed the preparation (the flow was blocked, or its demand went away): close what was opened.
        var effects = ImmutableArray.CreateBuilder<SourceEffect>();
        if (Phase == SourcePhase.Tunnelling)
        {
            effects.Add(SourceEffect.StopTunnel.Instance);
        }
        effects.Add(SourceEffect.Passivate.Instance);
        return (this with
        {
            Phase = SourcePhase.Idle,
            Current = null,
            TunnelStartedAt = null,
            TunnelState = null,
            Attempt = Attempt + 1,
            Preparing = false,
            Detail = "prepared, but no groups came",
        }, effects.ToImmutable());
    }

    private (SourceState, ImmutableArray<SourceEffect>) OnTunnelReported(SourceInput.TunnelReported reported) =>
        Phase == SourcePhase.Tunnelling && Current is not null && Current.Relay.Equals(reported.Relay)
            ? (this with { TunnelState = reported.State, Detail = $"tunnel to relay {reported.Relay}: {reported.State} {reported.Detail}".TrimEnd() }, [])
            : (this, []);

    /// <summary>The status reply for people and tests.</summary>
    public Sources.SourceProtocol.SourceStatus ToStatus(DateTimeOffset now) => new(
        Source.ToString(),
        Phase.ToString(),
        Current?.Relay.ToString(),
        Detail,
        [.. Groups.Select(g => g.ToString())],
        [.. HoldDowns.Active(now).Select(kv => $"{kv.Key} until {Stamp(kv.Value)}")]);

    private static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
