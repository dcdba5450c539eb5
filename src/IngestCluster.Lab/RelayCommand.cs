using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using IngestCluster.Protocols.Amt;

namespace IngestCluster.Lab;

/// <summary>The relay's settings, from the <c>relay</c> subcommand's options.</summary>
internal sealed record RelaySettings(
    IPEndPoint Listen,
    string UpstreamInterface,
    byte[] Secret,
    byte Qqic,
    byte Qrv,
    byte MaxRespCode,
    int MaxTunnels,
    IPAddress Advertise,
    bool LimitedCapacity,
    bool GatewayFields,
    TimeSpan? Duration,
    TimeSpan StatusInterval,
    TimeSpan ReplyDelay = default)
{
    /// <summary>Max Resp Code of the general query by default: 100 = 10 s.</summary>
    public const byte DefaultMaxRespCode = 100;
}

/// <summary><c>relay</c>: an AMT relay (RFC 7450 §5.3) built on our codecs. See <see cref="AmtRelay"/>.</summary>
internal static class RelayCommand
{
    public const string Usage =
        "usage: IngestCluster.Lab relay --listen ADDR[:2268] --upstream-interface IF [--secret HEX] [--qqic 20] [--qrv 2] [--mrc 100] " +
        "[--max-tunnels N] [--advertise ADDR] [--limited-capacity] [--gateway-fields] [--duration D] [--status-interval 1s] [--reply-delay D]";

    private static readonly HashSet<string> ValueOptions =
        ["listen", "upstream-interface", "secret", "qqic", "qrv", "mrc", "max-tunnels", "advertise", "duration", "status-interval", "reply-delay"];

    private static readonly HashSet<string> FlagOptions = ["limited-capacity", "gateway-fields"];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, StatusWriter status)
    {
        var settings = Parse(args);
        using var relay = new AmtRelay(settings, status, TimeProvider.System);
        return await relay.RunAsync().ConfigureAwait(false);
    }

    public static RelaySettings Parse(IReadOnlyList<string> args)
    {
        var options = LabArguments.Parse(args, ValueOptions, FlagOptions);
        var listenText = options.RequiredText("listen");
        if (!IPEndPoint.TryParse(listenText, out var listen) || listen.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new UsageException($"option --listen expects ADDR or ADDR:PORT with an IPv4 address, got '{listenText}'");
        }
        if (!listenText.Contains(':', StringComparison.Ordinal))
        {
            listen.Port = AmtMessage.RelayPort;
        }
        var upstream = options.RequiredText("upstream-interface");
        byte[] secret;
        if (options.Text("secret") is { } hex)
        {
            try
            {
                secret = Convert.FromHexString(hex);
            }
            catch (FormatException)
            {
                throw new UsageException($"option --secret expects an even number of hex digits, got '{hex}'");
            }
            if (secret.Length == 0)
            {
                throw new UsageException("option --secret must not be empty");
            }
        }
        else
        {
            secret = RandomNumberGenerator.GetBytes(32);
        }
        var advertise = options.Address("advertise") ?? listen.Address;
        if (advertise.Equals(IPAddress.Any))
        {
            throw new UsageException("option --advertise is required when --listen is 0.0.0.0");
        }
        return new RelaySettings(
            listen,
            upstream,
            secret,
            (byte)options.Integer("qqic", 20, 1, 255),
            (byte)options.Integer("qrv", 2, 1, 7),
            (byte)options.Integer("mrc", RelaySettings.DefaultMaxRespCode, 1, 255),
            (int)options.Integer("max-tunnels", int.MaxValue, 1, int.MaxValue),
            advertise,
            options.Has("limited-capacity"),
            options.Has("gateway-fields"),
            options.Duration("duration"),
            options.Duration("status-interval") ?? TimeSpan.FromSeconds(1),
            options.Duration("reply-delay") ?? TimeSpan.Zero);
    }

    public static string Hex(ulong mac) => mac.ToString("x12", CultureInfo.InvariantCulture);
}
