using System.Buffers.Binary;
using System.Security.Cryptography;

namespace IngestCluster.Lab;

/// <summary>
/// The relay's Response MAC (RFC 7450 §5.3.5): the first 48 bits of HMAC-SHA256(secret, request nonce |
/// gateway address | gateway port), all in network byte order (4 + 4 + 2 bytes for IPv4). Stateless, so the
/// relay can check an Update without having kept anything from the Request.
/// </summary>
internal static class RelayMac
{
    public static ulong Compute(ReadOnlySpan<byte> secret, uint nonce, uint gatewayAddress, ushort gatewayPort)
    {
        Span<byte> input = stackalloc byte[10];
        BinaryPrimitives.WriteUInt32BigEndian(input, nonce);
        BinaryPrimitives.WriteUInt32BigEndian(input[4..], gatewayAddress);
        BinaryPrimitives.WriteUInt16BigEndian(input[8..], gatewayPort);
        Span<byte> hash = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(secret, input, hash);
        ulong mac = 0;
        for (var i = 0; i < 6; i++)
        {
            mac = (mac << 8) | hash[i];
        }
        return mac;
    }
}
