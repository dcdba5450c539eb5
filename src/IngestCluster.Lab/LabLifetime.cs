using System.Runtime.InteropServices;

namespace IngestCluster.Lab;

/// <summary>
/// When a subcommand stops: on SIGTERM or SIGINT (the first one asks for a clean stop, the signal's default
/// action is cancelled), or when <c>--duration</c> has passed.
/// </summary>
internal sealed class LabLifetime : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _signal = new();
    private readonly CancellationTokenSource _secondSignal = new();
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _int;

    public LabLifetime(TimeSpan? duration)
    {
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        if (duration is { } d)
        {
            _stop.CancelAfter(d);
        }
    }

    /// <summary>Cancelled by a signal or when the duration is over.</summary>
    public CancellationToken Stopping => _stop.Token;

    /// <summary>Cancelled by a signal only (a receiver leaves on it, then lingers).</summary>
    public CancellationToken Signalled => _signal.Token;

    /// <summary>Cancelled by a second signal: cuts a receiver's linger short.</summary>
    public CancellationToken SignalledTwice => _secondSignal.Token;

    private int _signals;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        if (Interlocked.Increment(ref _signals) > 1)
        {
            _secondSignal.Cancel();
        }
        _signal.Cancel();
        _stop.Cancel();
    }

    public void Dispose()
    {
        _term.Dispose();
        _int.Dispose();
        _stop.Dispose();
        _signal.Dispose();
        _secondSignal.Dispose();
    }
}
