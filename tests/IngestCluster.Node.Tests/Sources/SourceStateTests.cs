using System.Collections.Immutable;
using System.Net;
using IngestCluster.Node.Sources;
using IngestCluster.Node.Tunnels;

namespace IngestCluster.Node.Tests.Sources;

public class SourceStateTests
{
    private static readonly IPAddress S = IPAddress.Parse("10.0.5.2");
    private static readonly IPAddress G1 = IPAddress.Parse("232.1.1.1");
    private static readonly IPAddress G2 = IPAddress.Parse("232.1.1.2");
    private static readonly IPEndPoint R1 = new(IPAddress.Parse("10.0.9.1"), 2268);
    private static readonly IPEndPoint R2 = new(IPAddress.Parse("10.0.9.2"), 2268);
    private static readonly SourceSettings Settings = new()
    {
        BackoffMin = TimeSpan.FromSeconds(1),
        BackoffMax = TimeSpan.FromSeconds(8),
        DefaultHoldDown = TimeSpan.FromMinutes(5),
        NoRelayRetry = TimeSpan.FromSeconds(60),
    };

    private DateTimeOffset _now = new(2026, 11, 23, 22, 0, 0, TimeSpan.Zero);
    private readonly Random _random = new(1);

    private (SourceState State, ImmutableArray<SourceEffect> Effects) Step(SourceState state, SourceInput input, SourceSettings? settings = null) =>
        state.Process(input, _now, settings ?? Settings, _random);

    private static DriadOutcome Relays(params (byte Precedence, IPEndPoint Relay, bool D)[] relays) =>
        new DriadOutcome.RelayCandidates(S, [.. relays.Select(r => new RelayCandidate(r.Precedence, r.D, r.Relay))]);

    private (SourceState, ImmutableArray<SourceEffect>) Tunnelling(params (byte, IPEndPoint, bool)[] relays)
    {
        var (resolving, _) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]));
        return Step(resolving, new SourceInput.Resolved(Relays(relays), resolving.Attempt));
    }

    [Fact]
    public void First_groups_start_a_lookup()
    {
        var (state, effects) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G2, G1, G1]));
        Assert.Equal(SourcePhase.Resolving, state.Phase);
        Assert.Equal([G1, G2], state.Groups.ToArray());
        Assert.Equal([new SourceEffect.StartResolve(state.Attempt)], effects.ToArray());
    }

    [Fact]
    public void Candidates_start_a_tunnel_to_the_lowest_precedence_with_its_D_bit_and_send_the_groups()
    {
        var (state, effects) = Tunnelling((20, R2, false), (10, R1, true));
        Assert.Equal(SourcePhase.Tunnelling, state.Phase);
        Assert.Equal(
            [new SourceEffect.StartTunnel(new TunnelProtocol.TunnelTarget(S, R1, SkipDiscovery: true)), new SourceEffect.SendGroups([G1])],
            effects.ToArray());
        Assert.Equal(R1.ToString(), state.ToStatus(_now).Relay);
    }

    [Fact]
    public void Every_ensure_while_tunnelling_forwards_the_full_set()
    {
        var (state, _) = Tunnelling((10, R1, false));
        var (same, effects) = Step(state, new SourceInput.DesiredGroups([G1]));
        Assert.Equal([new SourceEffect.SendGroups([G1])], effects.ToArray());
        var (_, more) = Step(same, new SourceInput.DesiredGroups([G1, G2]));
        Assert.Equal([new SourceEffect.SendGroups([G1, G2])], more.ToArray());
    }

    [Fact]
    public void Empty_groups_leave_stop_the_tunnel_and_passivate()
    {
        var (state, _) = Tunnelling((10, R1, false));
        var (idle, effects) = Step(state, new SourceInput.DesiredGroups([]));
        Assert.Equal(SourcePhase.Idle, idle.Phase);
        Assert.Equal([new SourceEffect.SendGroups([]), SourceEffect.StopTunnel.Instance, SourceEffect.Passivate.Instance], effects.ToArray());
    }

    [Fact]
    public void A_failed_relay_is_held_down_and_the_next_candidate_follows_after_backoff()
    {
        var (state, _) = Tunnelling((10, R1, false), (20, R2, false));
        var (waiting, effects) = Step(state, new SourceInput.RelayFailed(R1, "no advertisement", TimeSpan.FromMinutes(3)));
        Assert.Equal(SourcePhase.Backoff, waiting.Phase);
        Assert.Equal([SourceEffect.StopTunnel.Instance, new SourceEffect.ScheduleRetry(TimeSpan.FromSeconds(1), waiting.Attempt)], effects.ToArray());
        Assert.Contains("relay 10.0.9.1 failed (no advertisement); held down until 2026-11-23T22:03:00Z", waiting.Detail, StringComparison.Ordinal);
        Assert.Equal(["10.0.9.1:2268 until 2026-11-23T22:03:00Z"], waiting.ToStatus(_now).HeldDownRelays.ToArray());

        _now += TimeSpan.FromSeconds(1);
        var (next, startEffects) = Step(waiting, new SourceInput.RetryDue(waiting.Attempt));
        Assert.Equal(SourcePhase.Tunnelling, next.Phase);
        Assert.Equal(new SourceEffect.StartTunnel(new TunnelProtocol.TunnelTarget(S, R2, false)), startEffects[0]);
    }

    [Fact]
    public void Failures_back_off_exponentially_up_to_the_maximum()
    {
        Assert.Equal(
            [1, 2, 4, 8, 8, 8],
            Enumerable.Range(1, 6).Select(n => Settings.Backoff(n).TotalSeconds).ToArray());
    }

    [Fact]
    public void When_the_list_is_exhausted_the_source_looks_up_again_and_waits_out_the_hold_down()
    {
        var (state, _) = Tunnelling((10, R1, false));
        var (waiting, _) = Step(state, new SourceInput.RelayFailed(R1, "relay sent L flag", TimeSpan.Zero));
        _now += TimeSpan.FromSeconds(1);
        var (resolving, effects) = Step(waiting, new SourceInput.RetryDue(waiting.Attempt));
        Assert.Equal(SourcePhase.Resolving, resolving.Phase);
        Assert.Equal([new SourceEffect.StartResolve(resolving.Attempt)], effects.ToArray());

        // DNS gives the same single relay, still held down (the default five minutes).
        var (held, heldEffects) = Step(resolving, new SourceInput.Resolved(Relays((10, R1, false)), resolving.Attempt));
        Assert.Equal(SourcePhase.Backoff, held.Phase);
        Assert.Equal("relay 10.0.9.1 held down until 2026-11-23T22:05:00Z", held.Detail);
        var retry = Assert.IsType<SourceEffect.ScheduleRetry>(Assert.Single(heldEffects));
        Assert.Equal(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1), retry.Delay);

        _now += retry.Delay;
        var (again, againEffects) = Step(held, new SourceInput.RetryDue(held.Attempt));
        Assert.Equal(SourcePhase.Resolving, again.Phase);
        var (tunnel, tunnelEffects) = Step(again, new SourceInput.Resolved(Relays((10, R1, false)), again.Attempt));
        Assert.Equal(SourcePhase.Tunnelling, tunnel.Phase);
        Assert.IsType<SourceEffect.StartTunnel>(tunnelEffects[0]);
        Assert.Single(againEffects);
    }

    [Fact]
    public void No_record_waits_and_says_so()
    {
        var (resolving, _) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]));
        var (state, effects) = Step(resolving, new SourceInput.Resolved(new DriadOutcome.NoRecord(S), resolving.Attempt));
        Assert.Equal(SourcePhase.NoRelay, state.Phase);
        Assert.Equal("no AMTRELAY record for 10.0.5.2", state.Detail);
        Assert.Equal([new SourceEffect.ScheduleRetry(TimeSpan.FromSeconds(60), state.Attempt)], effects.ToArray());
        var (again, againEffects) = Step(state, new SourceInput.RetryDue(state.Attempt));
        Assert.Equal(SourcePhase.Resolving, again.Phase);
        Assert.IsType<SourceEffect.StartResolve>(Assert.Single(againEffects));
    }

    [Fact]
    public void Type_0_means_no_relay()
    {
        var (resolving, _) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]));
        var (state, _) = Step(resolving, new SourceInput.Resolved(new DriadOutcome.NoRelay(S), resolving.Attempt));
        Assert.Equal(SourcePhase.NoRelay, state.Phase);
        Assert.Equal("type 0: no relay", state.Detail);
    }

    [Fact]
    public void DNS_failure_backs_off_and_retries_the_lookup()
    {
        var (resolving, _) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]));
        var (state, effects) = Step(resolving, new SourceInput.Resolved(new DriadOutcome.DnsFailure(S, "timed out"), resolving.Attempt));
        Assert.Equal(SourcePhase.Backoff, state.Phase);
        Assert.Contains("timed out", state.Detail, StringComparison.Ordinal);
        Assert.Equal([new SourceEffect.ScheduleRetry(TimeSpan.FromSeconds(1), state.Attempt)], effects.ToArray());
        var (again, _) = Step(state, new SourceInput.RetryDue(state.Attempt));
        Assert.Equal(SourcePhase.Resolving, again.Phase);
    }

    [Fact]
    public void Override_is_used_for_a_source_without_a_record()
    {
        var settings = Settings with
        {
            Overrides = new RelayOverrideTable([new RelayOverride(IPNetwork.Parse("10.0.5.0/24"), R2)], consultBeforeDns: false),
        };
        var (resolving, first) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]), settings);
        Assert.IsType<SourceEffect.StartResolve>(Assert.Single(first));
        var (state, effects) = Step(resolving, new SourceInput.Resolved(new DriadOutcome.NoRecord(S), resolving.Attempt), settings);
        Assert.Equal(SourcePhase.Tunnelling, state.Phase);
        Assert.Equal(new SourceEffect.StartTunnel(new TunnelProtocol.TunnelTarget(S, R2, false)), effects[0]);
        Assert.Contains("override", state.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Override_before_DNS_skips_the_lookup()
    {
        var settings = Settings with
        {
            Overrides = new RelayOverrideTable([new RelayOverride(IPNetwork.Parse("10.0.0.0/8"), R2)], consultBeforeDns: true),
        };
        var (state, effects) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]), settings);
        Assert.Equal(SourcePhase.Tunnelling, state.Phase);
        Assert.DoesNotContain(effects, e => e is SourceEffect.StartResolve);
    }

    [Fact]
    public void Late_answers_and_failures_of_other_relays_are_ignored()
    {
        var (resolving, _) = Step(SourceState.Initial(S), new SourceInput.DesiredGroups([G1]));
        var (stale, staleEffects) = Step(resolving, new SourceInput.Resolved(Relays((10, R1, false)), resolving.Attempt - 1));
        Assert.Equal(SourcePhase.Resolving, stale.Phase);
        Assert.Empty(staleEffects);

        var (state, _) = Step(resolving, new SourceInput.Resolved(Relays((10, R1, false)), resolving.Attempt));
        var (same, effects) = Step(state, new SourceInput.RelayFailed(R2, "not ours", TimeSpan.FromMinutes(3)));
        Assert.Equal(SourcePhase.Tunnelling, same.Phase);
        Assert.Empty(effects);
        var (_, retryEffects) = Step(state, new SourceInput.RetryDue(state.Attempt - 1));
        Assert.Empty(retryEffects);
    }

    [Fact]
    public void A_tunnel_that_was_stable_resets_the_backoff()
    {
        var (state, _) = Tunnelling((10, R1, false), (20, R2, false));
        state = state with { ConsecutiveFailures = 5 };
        _now += TimeSpan.FromMinutes(2);
        var (waiting, effects) = Step(state, new SourceInput.RelayFailed(R1, "no data", TimeSpan.FromMinutes(3)));
        Assert.Equal(1, waiting.ConsecutiveFailures);
        Assert.Equal(new SourceEffect.ScheduleRetry(TimeSpan.FromSeconds(1), waiting.Attempt), effects[1]);
    }

    [Fact]
    public void Tunnel_state_reports_show_in_the_detail()
    {
        var (state, _) = Tunnelling((10, R1, false));
        var (reported, _) = Step(state, new SourceInput.TunnelReported(R1, "Joined", "2 groups"));
        Assert.Equal("Joined", reported.TunnelState);
        Assert.Contains("Joined 2 groups", reported.Detail, StringComparison.Ordinal);
    }
}
