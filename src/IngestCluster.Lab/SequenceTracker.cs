namespace IngestCluster.Lab;

/// <summary>
/// Counts what a stream of sequence numbers says about the path: the first sequence seen is the baseline; a
/// sequence below the highest seen so far is either a duplicate (seen before) or reordered (fills a gap);
/// lost = (highest - first + 1) - distinct sequences received. Remembers the last <see cref="Window"/>
/// sequences; an older one is counted as <see cref="Stale"/> and otherwise ignored.
/// </summary>
internal sealed class SequenceTracker
{
    public const int Window = 1 << 16;

    private readonly bool[] _seen = new bool[Window];
    private bool _started;

    public ulong FirstSequence { get; private set; }
    public ulong HighestSequence { get; private set; }
    public long Received { get; private set; }
    public long Distinct { get; private set; }
    public long Duplicates { get; private set; }
    public long Reordered { get; private set; }
    public long Stale { get; private set; }

    /// <summary>Sequences between the first and the highest that never arrived (so far).</summary>
    public long Lost => _started ? (long)(HighestSequence - FirstSequence + 1) - Distinct : 0;

    public double LossRatio => _started ? (double)Lost / (HighestSequence - FirstSequence + 1) : 0;

    public void Observe(ulong sequence)
    {
        Received++;
        if (!_started)
        {
            _started = true;
            FirstSequence = sequence;
            HighestSequence = sequence;
            Mark(sequence);
            return;
        }
        if (sequence > HighestSequence)
        {
            // Forget the slots the window slides past so they can be reused.
            var advance = sequence - HighestSequence;
            if (advance >= Window)
            {
                Array.Clear(_seen);
            }
            else
            {
                for (var s = HighestSequence + 1; s <= sequence; s++)
                {
                    _seen[s % Window] = false;
                }
            }
            HighestSequence = sequence;
            Mark(sequence);
            return;
        }
        if (sequence < FirstSequence || HighestSequence - sequence >= Window)
        {
            Stale++;
            return;
        }
        if (_seen[sequence % Window])
        {
            Duplicates++;
            return;
        }
        Reordered++;
        Mark(sequence);
    }

    private void Mark(ulong sequence)
    {
        _seen[sequence % Window] = true;
        Distinct++;
    }
}
