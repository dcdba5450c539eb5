using System.Collections.Immutable;
using System.Net;
using IngestCluster.Node.Sources;
using IngestCluster.Node.Tunnels;

namespace IngestCluster.Node.Tests.Sources;

/// <summary>A source told to prepare (its flow waits for the budget's metadata) looks up its relay and opens the tunnel
/// with nothing joined; groups that follow only join; a preparation nothing follows is given up.</summary>
public class SourcePrepareTests
{
    private static readonly IPAddress S = IPAddress.Parse("10.0.5.2");
    private static readonly IPAddress G1 = IPAddress.Parse("232.1.1.1");
    private static readonly IPEndPoint R1 = new(IPAddress.Parse("10.0.9.1"), 2268);
    private static readonly IPEndPoint R2 = new(IPAddress.Parse("10.0.9.2"), 2268);
    private static readonly SourceSettings Settings = new()
    {
        BackoffMin = TimeSpan.FromSeconds(1),
        BackoffMax = TimeSpan.FromSeconds(8),
        PrepareFor = TimeSpan.FromSeconds(10),
    };

    private readonly DateTimeOffset _now = new(2026, 12, 3, 14, 0, 0, TimeSpan.Zero);
    private readonly Random _random = new(1);

    private (SourceState State, ImmutableArray<SourceEffect> Effects) Step(SourceState state, SourceInput input, SourceSettings? settings = null) =>
        state.Process(input, _now, settings ?? Settings, _random);

    private static DriadOutcome Relays(params IPEndPoint[] relays) =>
        new DriadOutcome.RelayCandidates(S, [.. relays.Select((r, i) => new RelayCandidate((byte)(10 * (i + 1)), false, r))]);

    [Fact]
    public void Prepare_starts_a_lookup_and_the_deadline_with_no_groups()
    {
        var (state, effects) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance);
        Assert.Equal(SourcePhase.Resolving, state.Phase);
        Assert.True(state.Preparing);
        Assert.Empty(state.Groups);
        Assert.Equal([new SourceEffect.StartResolve(state.Attempt), new SourceEffect.SchedulePrepareOver(TimeSpan.FromSeconds(10))],
            effects.ToArray());
        Assert.StartsWith("preparing", state.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_prepared_lookup_opens_the_tunnel_joining_nothing_and_admitted_groups_then_only_join()
    {
        var (resolving, _) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance);
        var (open, effects) = Step(resolving, new SourceInput.Resolved(Relays(R1), resolving.Attempt));
        Assert.Equal(SourcePhase.Tunnelling, open.Phase);
        Assert.Equal([new SourceEffect.StartTunnel(new TunnelProtocol.TunnelTarget(S, R1, false)), new SourceEffect.SendGroups([])],
            effects.ToArray());

        var (joined, joinEffects) = Step(open, new SourceInput.DesiredGroups([G1]));
        Assert.Equal([new SourceEffect.SendGroups([G1])], joinEffects.ToArray());
        Assert.False(joined.Preparing);

        // The deadline after groups came changes nothing.
        var (after, overEffects) = Step(joined, SourceInput.PrepareOver.Instance);
        Assert.Empty(overEffects);
        Assert.Equal(SourcePhase.Tunnelling, after.Phase);
    }

    [Fact]
    public void Groups_during_a_prepared_lookup_are_carried_by_it()
    {
        var (resolving, _) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance);
        var (still, effects) = Step(resolving, new SourceInput.DesiredGroups([G1]));
        Assert.Empty(effects);
        Assert.Equal(SourcePhase.Resolving, still.Phase);
        var (open, openEffects) = Step(still, new SourceInput.Resolved(Relays(R1), resolving.Attempt));
        Assert.Equal(SourcePhase.Tunnelling, open.Phase);
        Assert.Contains(new SourceEffect.SendGroups([G1]), openEffects);
    }

    [Fact]
    public void A_preparation_nothing_follows_closes_its_tunnel_and_passivates()
    {
        var (resolving, _) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance);
        var (open, _) = Step(resolving, new SourceInput.Resolved(Relays(R1), resolving.Attempt));
        var (idle, effects) = Step(open, SourceInput.PrepareOver.Instance);
        Assert.Equal(SourcePhase.Idle, idle.Phase);
        Assert.False(idle.Preparing);
        Assert.Null(idle.Current);
        Assert.Equal([SourceEffect.StopTunnel.Instance, SourceEffect.Passivate.Instance], effects.ToArray());
    }

    [Fact]
    public void A_preparation_given_up_during_the_lookup_ignores_its_late_answer()
    {
        var (resolving, _) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance);
        var (idle, effects) = Step(resolving, SourceInput.PrepareOver.Instance);
        Assert.Equal([SourceEffect.Passivate.Instance], effects.ToArray());
        var (late, lateEffects) = Step(idle, new SourceInput.Resolved(Relays(R1), resolving.Attempt));
        Assert.Empty(lateEffects);
        Assert.Equal(SourcePhase.Idle, late.Phase);
    }

    [Fact]
    public void A_blocked_flow_ends_the_preparation_through_empty_groups()
    {
        var (resolving, _) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance);
        var (open, _) = Step(resolving, new SourceInput.Resolved(Relays(R1), resolving.Attempt));
        var (idle, effects) = Step(open, new SourceInput.DesiredGroups([]));
        Assert.Equal(SourcePhase.Idle, idle.Phase);
        Assert.False(idle.Preparing);
        Assert.Contains(SourceEffect.StopTunnel.Instance, effects);
        Assert.Contains(SourceEffect.Passivate.Instance, effects);
    }

    [Fact]
    public void A_failed_relay_during_a_preparation_moves_on_to_the_next_candidate()
    {
        var (resolving, _) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance);
        var (open, _) = Step(resolving, new SourceInput.Resolved(Relays(R1, R2), resolving.Attempt));
        var (waiting, _) = Step(open, new SourceInput.RelayFailed(R1, "no answer", TimeSpan.Zero));
        Assert.Equal(SourcePhase.Backoff, waiting.Phase);
        var (next, effects) = Step(waiting, new SourceInput.RetryDue(waiting.Attempt));
        Assert.Equal(SourcePhase.Tunnelling, next.Phase);
        Assert.Contains(new SourceEffect.StartTunnel(new TunnelProtocol.TunnelTarget(S, R2, false)), effects);
    }

    [Fact]
    public void Prepare_is_ignored_by_a_working_source_and_when_switched_off()
    {
        var (resolving, _) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]));
        var (same, effects) = Step(resolving, SourceInput.Prepare.Instance);
        Assert.Empty(effects);
        Assert.False(same.Preparing);

        var (off, offEffects) = Step(SourceState.Initial(S), SourceInput.Prepare.Instance, Settings with { PrepareFor = TimeSpan.Zero });
        Assert.Empty(offEffects);
        Assert.Equal(SourcePhase.Idle, off.Phase);
    }
}
