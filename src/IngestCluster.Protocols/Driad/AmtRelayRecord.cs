using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace IngestCluster.Protocols.Driad;

/// <summary>The relay type of an AMTRELAY record (RFC 8777 §4.2.3).</summary>
public enum AmtRelayType : byte
{
    /// <summary>No relay: the relay field is empty.</summary>
    None = 0,
    /// <summary>A 4-byte IPv4 address.</summary>
    IPv4 = 1,
    /// <summary>A 16-byte IPv6 address.</summary>
    IPv6 = 2,
    /// <summary>An uncompressed wire-format domain name, to be resolved to A or AAAA.</summary>
    DomainName = 3,
}

/// <summary>
/// The RDATA of one AMTRELAY resource record (RR type 260, RFC 8777 §4). Exactly one of <see cref="Address"/>
/// (types 1 and 2) and <see cref="RelayName"/> (type 3, presentation form ending in a dot) is set, neither for type 0.
/// </summary>
public sealed record AmtRelayRecord
{
    /// <summary>The DNS RR type number of AMTRELAY.</summary>
    public const int RecordType = 260;

    /// <summary>The UDP port of AMT relays (RFC 7450 §7).</summary>
    public const int AmtPort = 2268;

    private const int PrecedenceOffset = 0;
    private const int TypeOffset = 1;
    private const int RelayOffset = 2;
    private const byte DiscoveryOptionalBit = 0x80;
    private const byte TypeMask = 0x7F;
    private const int IPv4Length = 4;
    private const int IPv6Length = 16;

    private readonly byte[]? _wireName;

    private AmtRelayRecord(byte precedence, bool discoveryOptional, AmtRelayType type, IPAddress? address, string? name, byte[]? wireName, bool nameHadRootLabel)
    {
        Precedence = precedence;
        DiscoveryOptional = discoveryOptional;
        Type = type;
        Address = address;
        RelayName = name;
        _wireName = wireName;
        NameHadRootLabel = nameHadRootLabel;
    }

    /// <summary>Lower is tried first.</summary>
    public byte Precedence { get; }

    /// <summary>The D bit: the gateway may skip AMT Relay Discovery and send a Request at once.</summary>
    public bool DiscoveryOptional { get; }

    public AmtRelayType Type { get; }

    /// <summary>The relay's address, for types 1 and 2.</summary>
    public IPAddress? Address { get; }

    /// <summary>The relay's name for type 3, absolute, e.g. <c>amtrelays.example.com.</c>.</summary>
    public string? RelayName { get; }

    /// <summary>For a parsed type-3 record: whether the name ended with its zero byte (false for Akamai's 22-byte
    /// form). Records we build, and everything we write, always carry it.</summary>
    public bool NameHadRootLabel { get; }

    /// <summary>A type 0 record: use no relay for this source.</summary>
    public static AmtRelayRecord NoRelay(byte precedence, bool discoveryOptional = false) =>
        new(precedence, discoveryOptional, AmtRelayType.None, null, null, null, false);

    /// <summary>A type 1 or 2 record, chosen by the address family.</summary>
    public static AmtRelayRecord ForAddress(byte precedence, bool discoveryOptional, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var type = address.AddressFamily switch
        {
            AddressFamily.InterNetwork => AmtRelayType.IPv4,
            AddressFamily.InterNetworkV6 => AmtRelayType.IPv6,
            _ => throw new ArgumentException($"relay address {address} is neither IPv4 nor IPv6", nameof(address)),
        };
        return new(precedence, discoveryOptional, type, address, null, null, false);
    }

    /// <summary>A type 3 record. Throws <see cref="ArgumentException"/> for a name that cannot be encoded.</summary>
    public static AmtRelayRecord ForName(byte precedence, bool discoveryOptional, string relayName)
    {
        ArgumentNullException.ThrowIfNull(relayName);
        if (!DnsWireName.TryEncode(relayName, out var wire, out var error))
        {
            throw new ArgumentException($"relay name '{relayName}': {error}", nameof(relayName));
        }
        if (wire.Length == 1)
        {
            throw new ArgumentException("a type 3 relay name must not be the root", nameof(relayName));
        }
        if (!DnsWireName.TryRead(wire, out string canonical, out _, out var readError))
        {
            throw new ArgumentException($"relay name '{relayName}': {readError.Message}", nameof(relayName));
        }
        return new(precedence, discoveryOptional, AmtRelayType.DomainName, null, canonical, wire, true);
    }

    // RFC 8777 §4.2, the RDATA:
    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |   precedence  |D|    type     |                               |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    // ~                            relay                              ~
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // relay: type 0 empty, type 1 four bytes, type 2 sixteen bytes, type 3 an uncompressed wire-format name.

    /// <summary>
    /// Reads the RDATA of an AMTRELAY record. A type-3 name may end at the end of the RDATA without its zero byte.
    /// Relay types 4–127 give a <see cref="ParseFailure.Unsupported"/> error, which callers ignore (RFC 8777 §4.2.3).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> rdata, out AmtRelayRecord record, out ParseError error)
    {
        record = NoRelay(0);
        if (rdata.Length < RelayOffset)
        {
            error = ParseError.Truncated(rdata.Length, "AMTRELAY RDATA is {0} bytes, shorter than its 2-byte header", rdata.Length);
            return false;
        }

        byte precedence = rdata[PrecedenceOffset];
        bool discoveryOptional = (rdata[TypeOffset] & DiscoveryOptionalBit) != 0;
        int type = rdata[TypeOffset] & TypeMask;
        var relay = rdata[RelayOffset..];
        switch (type)
        {
            case (int)AmtRelayType.None:
                if (!relay.IsEmpty)
                {
                    error = ParseError.LengthMismatch(RelayOffset, "relay type 0 has an empty relay field but {0} bytes follow", relay.Length);
                    return false;
                }
                record = NoRelay(precedence, discoveryOptional);
                error = default;
                return true;

            case (int)AmtRelayType.IPv4:
            case (int)AmtRelayType.IPv6:
                int expected = type == (int)AmtRelayType.IPv4 ? IPv4Length : IPv6Length;
                if (relay.Length != expected)
                {
                    error = relay.Length < expected
                        ? ParseError.Truncated(RelayOffset, "relay type {0} needs a {1}-byte address but {2} bytes remain", type, expected, relay.Length)
                        : ParseError.LengthMismatch(RelayOffset, "relay type {0} needs a {1}-byte address but {2} bytes remain", type, expected, relay.Length);
                    return false;
                }
                record = new(precedence, discoveryOptional, (AmtRelayType)type, new IPAddress(relay), null, null, false);
                error = default;
                return true;

            case (int)AmtRelayType.DomainName:
                if (relay.IsEmpty)
                {
                    error = ParseError.Truncated(RelayOffset, "relay type 3 has an empty relay field; it needs a domain name");
                    return false;
                }
                if (relay[0] == 0)
                {
                    error = ParseError.BadValue(RelayOffset, "relay type 3 names the root, which is no relay");
                    return false;
                }
                if (!DnsWireName.TryRead(relay, out var name, out bool hadRoot, out var nameError))
                {
                    error = nameError.Shift(RelayOffset);
                    return false;
                }
                var wire = new byte[hadRoot ? relay.Length : relay.Length + 1];
                relay.CopyTo(wire);
                record = new(precedence, discoveryOptional, AmtRelayType.DomainName, null, name, wire, hadRoot);
                error = default;
                return true;

            default:
                error = ParseError.Unsupported(TypeOffset, "relay type {0} is not one RFC 8777 defines (0-3); ignore the record", type);
                return false;
        }
    }

    /// <summary>The RDATA length <see cref="Write"/> produces (a type-3 name always with its zero byte).</summary>
    public int Length => RelayOffset + Type switch
    {
        AmtRelayType.IPv4 => IPv4Length,
        AmtRelayType.IPv6 => IPv6Length,
        AmtRelayType.DomainName => _wireName!.Length,
        _ => 0,
    };

    /// <summary>Writes the RDATA; returns the bytes written. Throws when <paramref name="destination"/> is short.</summary>
    public int Write(Span<byte> destination)
    {
        int length = Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"destination is {destination.Length} bytes; the record needs {length}", nameof(destination));
        }
        destination[PrecedenceOffset] = Precedence;
        destination[TypeOffset] = (byte)((DiscoveryOptional ? DiscoveryOptionalBit : 0) | (byte)Type);
        switch (Type)
        {
            case AmtRelayType.IPv4:
            case AmtRelayType.IPv6:
                if (!Address!.TryWriteBytes(destination[RelayOffset..], out _))
                {
                    throw new InvalidOperationException("address did not fit its own length");
                }
                break;
            case AmtRelayType.DomainName:
                _wireName.CopyTo(destination[RelayOffset..]);
                break;
            case AmtRelayType.None:
            default:
                break;
        }
        return length;
    }

    /// <summary>The RDATA as a new array.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        Write(bytes);
        return bytes;
    }

    /// <summary>The presentation form, as bind9 9.18 writes and reads it: <c>10 0 1 203.0.113.15</c>,
    /// <c>128 1 3 amtrelays.example.com.</c>, <c>255 0 0 .</c>.</summary>
    public override string ToString()
    {
        string relay = Type switch
        {
            AmtRelayType.IPv4 or AmtRelayType.IPv6 => Address!.ToString(),
            AmtRelayType.DomainName => RelayName!,
            _ => ".",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{Precedence} {(DiscoveryOptional ? 1 : 0)} {(int)Type} {relay}");
    }

    /// <summary>Parses the presentation form (whitespace-separated precedence, D bit, type and relay). False with
    /// a reason for anything else; never throws on input.</summary>
    public static bool TryParse(string? text, out AmtRelayRecord record, out string error)
    {
        record = NoRelay(0);
        if (text is null)
        {
            error = "AMTRELAY text is missing";
            return false;
        }
        var fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 4)
        {
            error = $"AMTRELAY needs 4 fields (precedence, D bit, type, relay) but has {fields.Length}";
            return false;
        }
        if (!byte.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out byte precedence))
        {
            error = $"precedence '{fields[0]}' is not a number from 0 to 255";
            return false;
        }
        if (fields[1] is not ("0" or "1"))
        {
            error = $"D bit '{fields[1]}' is not 0 or 1";
            return false;
        }
        bool discoveryOptional = fields[1] == "1";
        if (!byte.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out byte type) || type > (byte)AmtRelayType.DomainName)
        {
            error = $"relay type '{fields[2]}' is not 0, 1, 2 or 3";
            return false;
        }
        string relay = fields[3];
        switch ((AmtRelayType)type)
        {
            case AmtRelayType.None:
                if (relay != ".")
                {
                    error = $"relay type 0 takes '.' as its relay, not '{relay}'";
                    return false;
                }
                record = NoRelay(precedence, discoveryOptional);
                break;
            case AmtRelayType.IPv4:
                if (!relay.Contains('.', StringComparison.Ordinal) || relay.Contains(':', StringComparison.Ordinal)
                    || !IPAddress.TryParse(relay, out var v4) || v4.AddressFamily != AddressFamily.InterNetwork || relay.Split('.').Length != 4)
                {
                    error = $"relay '{relay}' is not an IPv4 address";
                    return false;
                }
                record = ForAddress(precedence, discoveryOptional, v4);
                break;
            case AmtRelayType.IPv6:
                if (!relay.Contains(':', StringComparison.Ordinal) || !IPAddress.TryParse(relay, out var v6)
                    || v6.AddressFamily != AddressFamily.InterNetworkV6 || v6.ScopeId != 0)
                {
                    error = $"relay '{relay}' is not an IPv6 address";
                    return false;
                }
                record = ForAddress(precedence, discoveryOptional, v6);
                break;
            default:
                if (!DnsWireName.TryEncode(relay, out var wire, out var nameError))
                {
                    error = $"relay name '{relay}': {nameError}";
                    return false;
                }
                if (wire.Length == 1)
                {
                    error = "relay type 3 needs a name, not the root";
                    return false;
                }
                record = ForName(precedence, discoveryOptional, relay);
                break;
        }
        error = string.Empty;
        return true;
    }

    public bool Equals(AmtRelayRecord? other) =>
        other is not null && Precedence == other.Precedence && DiscoveryOptional == other.DiscoveryOptional && Type == other.Type &&
        Equals(Address, other.Address) && string.Equals(RelayName, other.RelayName, StringComparison.OrdinalIgnoreCase);

    public override int GetHashCode() =>
        HashCode.Combine(Precedence, DiscoveryOptional, Type, Address, RelayName is null ? 0 : StringComparer.OrdinalIgnoreCase.GetHashCode(RelayName));
}
