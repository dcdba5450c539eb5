using System.Collections.Immutable;
using System.Net;
using IngestCluster.Node.Sources;
using Xunit.Abstractions;

namespace IngestCluster.Node.Tests.Sources;

public class SourceStatePropertyTests(ITestOutputHelper output)
{
    private static readonly IPAddress S = IPAddress.Parse("10.0.5.2");
    private static readonly IPAddress[] Groups = [IPAddress.Parse("232.1.1.1"), IPAddress.Parse("232.1.1.2"), IPAddress.Parse("232.1.1.3")];
    private static readonly IPEndPoint[] Relays = [.. Enumerable.Range(1, 4).Select(i => new IPEndPoint(IPAddress.Parse($"10.0.9.{i}"), 2268))];

    [Theory]
    [InlineData(20261123)]
    [InlineData(42)]
    public void Random_input_sequences_keep_one_tunnel_at_most_and_never_tunnel_without_groups(int seed)
    {
        var random = new Random(seed);
        var settings = new SourceSettings();
        var now = new DateTimeOffset(2026, 11, 23, 22, 0, 0, TimeSpan.Zero);
        var state = SourceState.Initial(S);
        bool tunnelRunning = false;
        int pendingAttempt = -1;
        for (int step = 0; step < 50_000; step++)
        {
            now += TimeSpan.FromSeconds(random.Next(0, 120));
            SourceInput input = random.Next(6) switch
            {
                0 => new SourceInput.DesiredGroups([.. Groups.Where(_ => random.Next(3) > 0)]),
                1 => new SourceInput.Resolved(RandomOutcome(random), random.Next(4) == 0 ? state.Attempt - 1 : state.Attempt),
                2 => new SourceInput.RelayFailed(state.Current?.Relay is { } current && random.Next(4) > 0 ? current : Relays[random.Next(Relays.Length)], "test", TimeSpan.FromMinutes(random.Next(0, 11))),
                3 => new SourceInput.RetryDue(random.Next(4) == 0 ? state.Attempt - 1 : state.Attempt),
                4 => new SourceInput.TunnelReported(Relays[random.Next(Relays.Length)], "Joined", ""),
                _ => new SourceInput.DesiredGroups([]),
            };
            try
            {
                var (next, effects) = state.Process(input, now, settings, random);
                foreach (var effect in effects)
                {
                    switch (effect)
                    {
                        case SourceEffect.StartTunnel:
                            Assert.False(tunnelRunning, "a second tunnel was started while one runs");
                            tunnelRunning = true;
                            break;
                        case SourceEffect.StopTunnel:
                            Assert.True(tunnelRunning, "a tunnel was stopped that was not running");
                            tunnelRunning = false;
                            break;
                        case SourceEffect.SendGroups send:
                            Assert.True(tunnelRunning, "groups were sent with no tunnel");
                            Assert.True(send.Groups.SequenceEqual(next.Groups), "the tunnel was not sent the full set");
                            break;
                        case SourceEffect.StartResolve resolve:
                            pendingAttempt = resolve.Attempt;
                            Assert.Equal(next.Attempt, resolve.Attempt);
                            break;
                        case SourceEffect.ScheduleRetry retry:
                            Assert.True(retry.Delay > TimeSpan.Zero);
                            Assert.Equal(next.Attempt, retry.Attempt);
                            break;
                    }
                }
                Assert.Equal(next.Phase == SourcePhase.Tunnelling, tunnelRunning);
                Assert.Equal(next.Phase == SourcePhase.Tunnelling, next.Current is not null);
                if (next.Phase != SourcePhase.Idle)
                {
                    Assert.False(next.Groups.IsEmpty, $"phase {next.Phase} with no groups");
                }
                if (next.Current is { } relay)
                {
                    Assert.False(next.HoldDowns.IsHeldDown(relay.Relay, now), "tunnelling to a held-down relay");
                }
                state = next;
            }
            catch (Exception e)
            {
                output.WriteLine($"seed {seed}, step {step}, input {input}, state {state}");
                throw new InvalidOperationException($"seed {seed}, step {step}, input {input}: {e.Message}", e);
            }
        }
        Assert.True(pendingAttempt > 0, $"seed {seed}: no lookup was ever started");
    }

    private static DriadOutcome RandomOutcome(Random random) => random.Next(5) switch
    {
        0 => new DriadOutcome.NoRecord(S),
        1 => new DriadOutcome.NoRelay(S),
        2 => new DriadOutcome.DnsFailure(S, "SERVFAIL"),
        _ => new DriadOutcome.RelayCandidates(S, [.. Relays.Where(_ => random.Next(2) == 0).Select(r => new RelayCandidate((byte)random.Next(3), random.Next(2) == 0, r))]),
    };
}
