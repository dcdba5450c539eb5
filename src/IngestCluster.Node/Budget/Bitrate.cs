using System.Globalization;

namespace IngestCluster.Node.Budget;

/// <summary>
/// A rate in bits per second, never negative. Written with decimal SI units, as CBACC and every operator mean
/// them: <c>k</c> = 10^3, <c>M</c> = 10^6, <c>G</c> = 10^9 (the proof of concept's "MiBps" meant 2^20 bits/s, which
/// is the mistake this type exists to rule out). The unit is required and its case is as written: <c>bps</c>,
/// <c>kbps</c>, <c>Mbps</c>, <c>Gbps</c>; <c>mbps</c> would read as millibits and is refused.
/// </summary>
public readonly record struct Bitrate(long BitsPerSecond) : IComparable<Bitrate>
{
    /// <summary>The units from largest to smallest, so <see cref="ToString"/> finds the shortest exact form first.</summary>
    private static readonly (string Suffix, long Factor)[] Units =
    [
        ("Gbps", 1_000_000_000),
        ("Mbps", 1_000_000),
        ("kbps", 1_000),
        ("bps", 1),
    ];

    public long BitsPerSecond { get; } = BitsPerSecond >= 0
        ? BitsPerSecond
        : throw new ArgumentOutOfRangeException(nameof(BitsPerSecond), BitsPerSecond, "a bitrate cannot be negative");

    public static Bitrate Zero => default;

    /// <summary>Reads <c>2Gbps</c>, <c>500Mbps</c>, <c>1.5Gbps</c>, <c>64kbps</c> or <c>1000bps</c>. A fraction is
    /// accepted when it comes to a whole number of bits per second.</summary>
    public static bool TryParse(string? text, out Bitrate value, out string error)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "expected a bitrate with its unit (bps, kbps, Mbps, Gbps), for example 500Mbps";
            return false;
        }
        text = text.Trim();
        foreach (var (suffix, factor) in Units)
        {
            if (!text.EndsWith(suffix, StringComparison.Ordinal))
            {
                continue;
            }
            var number = text.AsSpan(0, text.Length - suffix.Length).TrimEnd();
            // "bps" also ends "kbps": a letter left before it means a unit we do not know ("Kbps", "mbps").
            if (number.Length > 0 && char.IsLetter(number[^1]))
            {
                break;
            }
            if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
            {
                error = $"\"{text}\": expected a non-negative number before {suffix}, for example 500Mbps";
                return false;
            }
            decimal bits;
            try
            {
                bits = amount * factor;
            }
            catch (OverflowException)
            {
                error = $"\"{text}\": larger than {new Bitrate(long.MaxValue)}";
                return false;
            }
            if (bits != decimal.Truncate(bits))
            {
                error = $"\"{text}\": not a whole number of bits per second";
                return false;
            }
            if (bits > long.MaxValue)
            {
                error = $"\"{text}\": larger than {new Bitrate(long.MaxValue)}";
                return false;
            }
            value = new Bitrate((long)bits);
            error = "";
            return true;
        }
        error = $"\"{text}\": expected a bitrate with its unit (bps, kbps, Mbps, Gbps), for example 500Mbps";
        return false;
    }

    /// <summary>Adds two rates; an overflow is a bug in the caller, so it throws.</summary>
    public Bitrate Add(Bitrate other) => new(checked(BitsPerSecond + other.BitsPerSecond));

    /// <summary>Subtracts a rate; a negative result is a bug in the caller, so it throws.</summary>
    public Bitrate Subtract(Bitrate other) => new(BitsPerSecond - other.BitsPerSecond);

    public int CompareTo(Bitrate other) => BitsPerSecond.CompareTo(other.BitsPerSecond);

    /// <summary>The shortest exact form: <c>2Gbps</c>, <c>1500Mbps</c>, <c>64kbps</c>, <c>1001bps</c>, <c>0bps</c>.</summary>
    public override string ToString()
    {
        foreach (var (suffix, factor) in Units)
        {
            if (BitsPerSecond != 0 && BitsPerSecond % factor == 0)
            {
                return (BitsPerSecond / factor).ToString(CultureInfo.InvariantCulture) + suffix;
            }
        }
        return "0bps";
    }

    public static Bitrate operator +(Bitrate left, Bitrate right) => left.Add(right);

    public static Bitrate operator -(Bitrate left, Bitrate right) => left.Subtract(right);

    public static bool operator <(Bitrate left, Bitrate right) => left.BitsPerSecond < right.BitsPerSecond;

    public static bool operator >(Bitrate left, Bitrate right) => left.BitsPerSecond > right.BitsPerSecond;

    public static bool operator <=(Bitrate left, Bitrate right) => left.BitsPerSecond <= right.BitsPerSecond;

    public static bool operator >=(Bitrate left, Bitrate right) => left.BitsPerSecond >= right.BitsPerSecond;
}
