using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;

namespace IngestCluster.Node.Hosting;

/// <summary>A setting that could not be read: the key, the value, and what the key expects.</summary>
public sealed record SettingError(string Key, string? Value, string Expected)
{
    public override string ToString() => $"{Key} = \"{Value}\": expected {Expected}";
}

/// <summary>The node's settings were invalid; <see cref="Errors"/> names every bad key.</summary>
public sealed class SettingsException(IReadOnlyList<SettingError> errors)
    : Exception("invalid settings:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<SettingError> Errors { get; } = errors;
}

/// <summary>
/// Reads typed settings from <see cref="IConfiguration"/>, with explicit units: durations as <c>30s</c>,
/// <c>500ms</c>, <c>5m</c>, <c>1h</c>; endpoints as <c>10.0.0.1:53</c>. It collects every error instead of stopping
/// at the first, so an operator fixes a config file in one go.
/// </summary>
public sealed class SettingsReader(IConfiguration configuration)
{
    private readonly List<SettingError> _errors = [];

    public IReadOnlyList<SettingError> Errors => _errors;

    public void ThrowIfInvalid()
    {
        if (_errors.Count > 0)
        {
            throw new SettingsException(_errors);
        }
    }

    public void Fail(string key, string? value, string expected) => _errors.Add(new SettingError(key, value, expected));

    public string String(string key, string fallback) => configuration[key] is { Length: > 0 } v ? v.Trim() : fallback;

    public string? OptionalString(string key) => configuration[key] is { Length: > 0 } v ? v.Trim() : null;

    public int Int(string key, int fallback, int min, int max)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }
        Fail(key, raw, $"a whole number from {min} to {max}");
        return fallback;
    }

    public bool Bool(string key, bool fallback)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        if (bool.TryParse(raw, out var value))
        {
            return value;
        }
        Fail(key, raw, "true or false");
        return fallback;
    }

    public TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        if (TryParseDuration(raw, out var value) && value >= min && value <= max)
        {
            return value;
        }
        Fail(key, raw, $"a duration with its unit (ms, s, m, h) from {Format(min)} to {Format(max)}");
        return fallback;
    }

    /// <summary>A size in bytes with its unit: <c>B</c>, <c>KiB</c> or <c>MiB</c> (e.g. <c>4MiB</c>, <c>256 KiB</c>).</summary>
    public int Bytes(string key, int fallback, int min, int max)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }
        string text = raw.Trim();
        (string Unit, long Factor)[] units = [("KiB", 1L << 10), ("MiB", 1L << 20), ("B", 1)];
        foreach (var (unit, factor) in units)
        {
            if (text.EndsWith(unit, StringComparison.Ordinal) &&
                long.TryParse(text[..^unit.Length].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number) &&
                number * factor >= min && number * factor <= max)
            {
                return (int)(number * factor);
            }
        }
        Fail(key, raw, $"a size with its unit (B, KiB, MiB) from {min} B to {max} B");
        return fallback;
    }

    /// <summary>A bitrate such as <c>2Gbps</c> or <c>500 kbit/s</c> (<see cref="Budget.Bitrate.TryParse"/>); null when unset.</summary>
    public Budget.Bitrate? Bitrate(string key)
    {
        if (OptionalString(key) is not { } raw)
        {
            return null;
        }
        if (Budget.Bitrate.TryParse(raw, out var value, out string error))
        {
            return value;
        }
        Fail(key, raw, $"a bitrate with its unit, such as 2Gbps or 800Mbps: {error}");
        return null;
    }

    public IReadOnlyList<string> List(string key) =>
        [.. configuration.GetSection(key).GetChildren().Select(c => c.Value).Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim())];

    public IReadOnlyList<IConfigurationSection> Children(string key) => [.. configuration.GetSection(key).GetChildren()];

    public IPAddress? Address(string key, string? raw)
    {
        if (IPAddress.TryParse(raw, out var address))
        {
            return address;
        }
        Fail(key, raw, "an IPv4 or IPv6 address");
        return null;
    }

    public IPEndPoint? Endpoint(string key, string? raw, int defaultPort)
    {
        if (raw is not null && IPEndPoint.TryParse(raw, out var endpoint))
        {
            if (endpoint.Port == 0 && !raw.Contains("]:", StringComparison.Ordinal) && raw.Count(c => c == ':') != 1)
            {
                endpoint.Port = defaultPort;
            }
            return endpoint;
        }
        Fail(key, raw, $"an address with an optional port, e.g. 10.0.0.1:{defaultPort}");
        return null;
    }

    /// <summary>Parses <c>250ms</c>, <c>30s</c>, <c>5m</c>, <c>1h</c>, or a .NET TimeSpan such as <c>00:00:30</c>.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        text = text.Trim();
        (string suffix, double unitMs)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (suffix, unitMs) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) &&
                n >= 0 && !double.IsInfinity(n))
            {
                value = TimeSpan.FromMilliseconds(n * unitMs);
                return true;
            }
        }
        // A bare number ("30") is refused: TimeSpan would read it as days, and a setting's unit must be explicit.
        value = default;
        return text.Contains(':', StringComparison.Ordinal) &&
            TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }

    public static string Format(TimeSpan t) =>
        t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0}ms" :
        t.TotalSeconds < 120 ? $"{t.TotalSeconds:0.###}s" :
        t.TotalMinutes < 120 ? $"{t.TotalMinutes:0.###}m" : $"{t.TotalHours:0.###}h";
}
