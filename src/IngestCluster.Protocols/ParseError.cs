using System.Globalization;

namespace IngestCluster.Protocols;

/// <summary>What kind of wrong a reader found. Stable: metrics are labelled with it.</summary>
public enum ParseFailure
{
    None = 0,
    /// <summary>The input ends before a field that must be there.</summary>
    Truncated,
    /// <summary>A length or count field disagrees with the bytes that are there.</summary>
    LengthMismatch,
    /// <summary>A checksum does not verify.</summary>
    BadChecksum,
    /// <summary>A version number we do not speak.</summary>
    BadVersion,
    /// <summary>A field holds a value the protocol forbids.</summary>
    BadValue,
    /// <summary>Well formed, but a kind we do not handle (a family, a type).</summary>
    Unsupported,
}

/// <summary>
/// A typed, allocation-free parse failure: what was wrong (<see cref="Kind"/>), where (<see cref="Offset"/>,
/// in bytes from the start of the reader's input) and a sentence for people.
/// The sentence is a constant composite-format template with up to three numeric arguments, formatted only
/// when somebody reads <see cref="Message"/>, so a flood of hostile packets costs no string per packet.
/// </summary>
public readonly struct ParseError : IEquatable<ParseError>
{
    private readonly string? _template;
    private readonly long _a0, _a1, _a2;

    public ParseError(ParseFailure kind, int offset, string template, long a0 = 0, long a1 = 0, long a2 = 0)
    {
        Kind = kind;
        Offset = offset;
        _template = template;
        _a0 = a0;
        _a1 = a1;
        _a2 = a2;
    }

    public ParseFailure Kind { get; }

    /// <summary>Byte offset, from the start of the reader's input, of the field that was wrong.</summary>
    public int Offset { get; }

    public bool IsError => Kind != ParseFailure.None;

    /// <summary>For example "Join/Prune group 2 claims 5 joined sources but 12 bytes remain".</summary>
    public string Message => _template is null
        ? string.Empty
        : string.Format(CultureInfo.InvariantCulture, _template, _a0, _a1, _a2);

    public static ParseError Truncated(int offset, string template, long a0 = 0, long a1 = 0, long a2 = 0) =>
        new(ParseFailure.Truncated, offset, template, a0, a1, a2);

    public static ParseError LengthMismatch(int offset, string template, long a0 = 0, long a1 = 0, long a2 = 0) =>
        new(ParseFailure.LengthMismatch, offset, template, a0, a1, a2);

    public static ParseError BadChecksum(int offset, string template, long a0 = 0, long a1 = 0, long a2 = 0) =>
        new(ParseFailure.BadChecksum, offset, template, a0, a1, a2);

    public static ParseError BadVersion(int offset, string template, long a0 = 0, long a1 = 0, long a2 = 0) =>
        new(ParseFailure.BadVersion, offset, template, a0, a1, a2);

    public static ParseError BadValue(int offset, string template, long a0 = 0, long a1 = 0, long a2 = 0) =>
        new(ParseFailure.BadValue, offset, template, a0, a1, a2);

    public static ParseError Unsupported(int offset, string template, long a0 = 0, long a1 = 0, long a2 = 0) =>
        new(ParseFailure.Unsupported, offset, template, a0, a1, a2);

    /// <summary>The same failure, moved by <paramref name="delta"/> bytes: for a reader that parses an inner message.</summary>
    public ParseError Shift(int delta) => new(Kind, Offset + delta, _template ?? string.Empty, _a0, _a1, _a2);

    public override string ToString() =>
        IsError ? $"{Kind} at offset {Offset.ToString(CultureInfo.InvariantCulture)}: {Message}" : "no error";

    public bool Equals(ParseError other) =>
        Kind == other.Kind && Offset == other.Offset && _template == other._template &&
        _a0 == other._a0 && _a1 == other._a1 && _a2 == other._a2;

    public override bool Equals(object? obj) => obj is ParseError other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Kind, Offset, _template, _a0, _a1, _a2);

    public static bool operator ==(ParseError left, ParseError right) => left.Equals(right);

    public static bool operator !=(ParseError left, ParseError right) => !left.Equals(right);
}
