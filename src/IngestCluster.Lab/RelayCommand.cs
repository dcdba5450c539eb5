namespace IngestCluster.Lab;

/// <summary><c>relay</c>: an AMT relay (RFC 7450 §5.3). Placeholder until the AMT codecs are merged.</summary>
internal static class RelayCommand
{
    public const string Usage =
        "usage: IngestCluster.Lab relay --listen ADDR[:2268] --upstream-interface IF [--secret HEX] [--qqic 20] [--qrv 2] " +
        "[--max-tunnels N] [--advertise ADDR] [--limited-capacity] [--duration D] [--status-interval 1s]";

    public static Task<int> RunAsync(IReadOnlyList<string> args, StatusWriter status)
    {
        _ = args;
        _ = status;
        throw new UsageException("relay is not built yet");
    }
}
