using System.Globalization;
using System.Net;

namespace IngestCluster.Lab;

/// <summary>A command-line mistake: the message is printed with the subcommand's usage, and the exit code is 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The <c>--name value</c> and <c>--flag</c> options of one subcommand. Every option must be known to the
/// subcommand; an unknown or repeated option, a missing value or a value of the wrong form is a
/// <see cref="UsageException"/> that names the option.
/// </summary>
internal sealed class LabArguments
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    private LabArguments() { }

    /// <param name="valueOptions">Options that take a value, without the leading dashes.</param>
    /// <param name="flagOptions">Options that take none.</param>
    public static LabArguments Parse(IReadOnlyList<string> args, IReadOnlySet<string> valueOptions, IReadOnlySet<string> flagOptions)
    {
        var parsed = new LabArguments();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}' (options look like --name value)");
            }
            var name = arg[2..];
            string? value = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            if (parsed._values.ContainsKey(name))
            {
                throw new UsageException($"option --{name} given twice");
            }
            if (flagOptions.Contains(name))
            {
                if (value is not null)
                {
                    throw new UsageException($"option --{name} takes no value");
                }
                parsed._values[name] = null;
            }
            else if (valueOptions.Contains(name))
            {
                if (value is null)
                {
                    if (i + 1 >= args.Count)
                    {
                        throw new UsageException($"option --{name} needs a value");
                    }
                    value = args[++i];
                }
                parsed._values[name] = value;
            }
            else
            {
                throw new UsageException($"unknown option --{name}");
            }
        }
        return parsed;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Text(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public string RequiredText(string name) =>
        Text(name) ?? throw new UsageException($"option --{name} is required");

    public IPAddress? Address(string name)
    {
        var text = Text(name);
        if (text is null)
        {
            return null;
        }
        if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            throw new UsageException($"option --{name} expects an IPv4 address, got '{text}'");
        }
        return address;
    }

    public IPAddress RequiredAddress(string name) =>
        Address(name) ?? throw new UsageException($"option --{name} is required");

    public IPAddress RequiredMulticast(string name)
    {
        var address = RequiredAddress(name);
        var first = address.GetAddressBytes()[0];
        if (first is < 224 or > 239)
        {
            throw new UsageException($"option --{name} expects an IPv4 multicast address (224.0.0.0/4), got '{address}'");
        }
        return address;
    }

    public long Integer(string name, long defaultValue, long min, long max)
    {
        var text = Text(name);
        if (text is null)
        {
            return defaultValue;
        }
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"option --{name} expects an integer from {min} to {max}, got '{text}'");
        }
        return value;
    }

    public double Number(string name, double defaultValue, double min, double max)
    {
        var text = Text(name);
        if (text is null)
        {
            return defaultValue;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value >= min && value <= max))
        {
            throw new UsageException($"option --{name} expects a number from {min} to {max}, got '{text}'");
        }
        return value;
    }

    /// <summary>A duration such as <c>30s</c>, <c>500ms</c>, <c>2m</c> or a bare number of seconds (<c>1.5</c>).</summary>
    public TimeSpan? Duration(string name)
    {
        var text = Text(name);
        if (text is null)
        {
            return null;
        }
        if (!TryParseDuration(text, out var duration) || duration < TimeSpan.Zero)
        {
            throw new UsageException($"option --{name} expects a duration such as 30s, 500ms or 2m, got '{text}'");
        }
        return duration;
    }

    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        var (number, scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ when text.EndsWith('h') => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsNaN(value) || double.IsInfinity(value))
        {
            return false;
        }
        duration = TimeSpan.FromSeconds(value * scale);
        return true;
    }
}
