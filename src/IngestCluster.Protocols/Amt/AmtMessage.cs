namespace IngestCluster.Protocols.Amt;

/// <summary>The seven AMT message types (RFC 7450 §5.1). Byte 0 of every message is version 0 | type.</summary>
public enum AmtMessageType : byte
{
    RelayDiscovery = 1,
    RelayAdvertisement = 2,
    Request = 3,
    MembershipQuery = 4,
    MembershipUpdate = 5,
    MulticastData = 6,
    Teardown = 7,
}

/// <summary>What every AMT message shares: the relay's UDP port and the version/type byte.</summary>
public static class AmtMessage
{
    /// <summary>The IANA-assigned AMT port on the relay (RFC 7450 §7).</summary>
    public const int RelayPort = 2268;

    internal const int VersionTypeOffset = 0;

    /// <summary>Reads byte 0: version must be 0, type one of the seven.</summary>
    public static bool TryReadType(ReadOnlySpan<byte> message, out AmtMessageType type, out ParseError error)
    {
        type = default;
        if (message.IsEmpty)
        {
            error = ParseError.Truncated(0, "AMT message is empty");
            return false;
        }
        int version = message[VersionTypeOffset] >> 4;
        if (version != 0)
        {
            error = ParseError.BadVersion(VersionTypeOffset, "AMT version is {0}, not 0", version);
            return false;
        }
        int value = message[VersionTypeOffset] & 0x0F;
        if (value is < (int)AmtMessageType.RelayDiscovery or > (int)AmtMessageType.Teardown)
        {
            error = ParseError.Unsupported(VersionTypeOffset, "AMT message type {0} is not one of 1 to 7", value);
            return false;
        }
        type = (AmtMessageType)value;
        error = default;
        return true;
    }

    /// <summary>Checks that <paramref name="message"/> is an AMT message of the <paramref name="expected"/> type.</summary>
    internal static bool TryExpectType(ReadOnlySpan<byte> message, AmtMessageType expected, out ParseError error)
    {
        if (!TryReadType(message, out var type, out error))
        {
            return false;
        }
        if (type != expected)
        {
            error = ParseError.BadValue(VersionTypeOffset, "AMT message type is {0}, expected {1}", (int)type, (int)expected);
            return false;
        }
        return true;
    }

    /// <summary>Checks a fixed-size message's length exactly.</summary>
    internal static bool TryExpectLength(ReadOnlySpan<byte> message, int length, AmtMessageType type, out ParseError error)
    {
        if (message.Length < length)
        {
            error = ParseError.Truncated(message.Length, "AMT type {0} needs {1} bytes but only {2} are there", (int)type, length, message.Length);
            return false;
        }
        if (message.Length > length)
        {
            error = ParseError.LengthMismatch(length, "AMT type {0} is {1} bytes but the datagram has {2}", (int)type, length, message.Length);
            return false;
        }
        error = default;
        return true;
    }

    internal static void CheckDestination(Span<byte> destination, int length, string name)
    {
        if (destination.Length < length)
        {
            throw new ArgumentException($"{name} needs {length} bytes, the destination has {destination.Length}", nameof(destination));
        }
    }
}
