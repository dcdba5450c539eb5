using System.Buffers.Binary;
using System.Globalization;

namespace IngestCluster.Protocols.Tests;

/// <summary>A reader under test: true and no error, or false and a typed error.</summary>
public delegate bool FuzzReader(ReadOnlySpan<byte> input, out ParseError error);

/// <summary>
/// Seeded, reproducible robustness runs: inputs derived from valid vectors by truncation, bit flips, length and
/// count fields that lie, and appended bytes (and, half the time, checksums fixed afterwards so the lie reaches
/// the fields behind the checksum). Asserts that the reader never throws and that every false return carries a
/// typed error whose offset lies in the input (at most its length, and before it unless the input is truncated).
/// The seed is FUZZ_SEED from the environment, or a fixed default; a failure prints it with the input.
/// </summary>
public static class Fuzz
{
    public const int DefaultIterations = 100_000;
    private const int DefaultSeed = 20261123;

    private static readonly byte[] InterestingBytes = [0, 1, 2, 3, 4, 5, 6, 0x0f, 0x10, 0x40, 0x45, 0x46, 0x4f, 0x7f, 0x80, 0xfe, 0xff];

    public static int Seed =>
        int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int seed)
            ? seed
            : DefaultSeed;

    public static void Run(string name, IReadOnlyList<byte[]> seeds, FuzzReader reader, Action<byte[]>? fixChecksums = null,
        int iterations = DefaultIterations)
    {
        Assert.NotEmpty(seeds);
        int seed = Seed;
        foreach (var valid in seeds)
        {
            Assert.True(reader(valid, out var error), $"fuzz {name}: the valid vector {Hex.Of(valid)} is rejected: {error}");
        }
        // A stable per-reader stream (string.GetHashCode is randomized per process).
        var rng = new Random(seed ^ (int)Fnv1a(name));
        int rejected = 0;
        for (int i = 0; i < iterations; i++)
        {
            var input = Mutate(rng, seeds[rng.Next(seeds.Count)], fixChecksums);
            try
            {
                if (!reader(input, out var error))
                {
                    rejected++;
                    Check(error, input.Length);
                }
            }
#pragma warning disable CA1031 // any exception is the failure we report, with what reproduces it
            catch (Exception e)
#pragma warning restore CA1031
            {
                Assert.Fail($"fuzz {name}: seed {seed} (FUZZ_SEED), iteration {i}, input {Hex.Of(input)}: {e}");
            }
        }
        // The mutations must exercise the failure paths, and not only them.
        Assert.InRange(rejected, iterations / 20, iterations - (iterations / 100));
    }

    private static void Check(ParseError error, int inputLength)
    {
        if (!error.IsError)
        {
            throw new InvalidOperationException("false returned with no error");
        }
        if (error.Offset < 0 || error.Offset > inputLength ||
            (error.Offset == inputLength && error.Kind != ParseFailure.Truncated))
        {
            throw new InvalidOperationException($"error offset {error.Offset} is outside the {inputLength}-byte input: {error}");
        }
        if (string.IsNullOrEmpty(error.Message))
        {
            throw new InvalidOperationException($"error {error.Kind} has no message");
        }
    }

    private static byte[] Mutate(Random rng, byte[] valid, Action<byte[]>? fixChecksums)
    {
        if (rng.Next(50) == 0)
        {
            var noise = new byte[rng.Next(0, 80)];
            rng.NextBytes(noise);
            return noise;
        }
        var b = valid.ToArray();
        int operations = rng.Next(1, 4);
        for (int op = 0; op < operations; op++)
        {
            switch (rng.Next(6))
            {
                case 0: // truncation
                    b = b[..rng.Next(b.Length + 1)];
                    break;
                case 1 when b.Length > 0: // bit flip
                    b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 2 when b.Length > 0: // a byte field that lies (most length/count fields are early)
                    b[Position(rng, b.Length)] = rng.Next(4) == 0 ? (byte)(b.Length / 4) : InterestingBytes[rng.Next(InterestingBytes.Length)];
                    break;
                case 3 when b.Length > 1: // a 16-bit length or count that lies
                {
                    int at = Math.Min(Position(rng, b.Length), b.Length - 2);
                    int[] values = [0, 1, 2, 0x7fff, 0xffff, b.Length, b.Length - 1, b.Length + 1, b.Length + 4, (b.Length / 4) + 1, rng.Next(65536)];
                    BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), (ushort)values[rng.Next(values.Length)]);
                    break;
                }
                case 4: // bytes appended
                {
                    var tail = new byte[rng.Next(1, 65)];
                    rng.NextBytes(tail);
                    b = [.. b, .. tail];
                    break;
                }
                case 5 when b.Length > 0: // a random byte
                    b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    break;
            }
        }
        if (fixChecksums is not null && rng.Next(2) == 0)
        {
            fixChecksums(b);
        }
        return b;
    }

    private static int Position(Random rng, int length) => rng.Next(2) == 0 ? rng.Next(Math.Min(length, 32)) : rng.Next(length);

    private static uint Fnv1a(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 16777619;
        }
        return hash;
    }

    /// <summary>Recomputes an IPv4 header checksum in place when the IHL fits the buffer.</summary>
    public static void FixIpv4Checksum(byte[] b)
    {
        if (b.Length < 20)
        {
            return;
        }
        int ihl = (b[0] & 0x0F) * 4;
        if (ihl < 20 || ihl > b.Length)
        {
            return;
        }
        b[10] = b[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(10), InternetChecksum.Compute(b.AsSpan(0, ihl)));
    }

    /// <summary>Recomputes an IGMP checksum over <paramref name="b"/>[<paramref name="start"/>..<paramref name="end"/>].</summary>
    public static void FixIgmpChecksum(byte[] b, int start, int end)
    {
        if (start < 0 || end > b.Length || end - start < 4)
        {
            return;
        }
        b[start + 2] = b[start + 3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(start + 2), InternetChecksum.Compute(b.AsSpan(start, end - start)));
    }

    /// <summary>Fixes the IGMP checksum inside an IP datagram (as far as its Total Length, clipped), then the IP one.</summary>
    public static void FixIgmpDatagramChecksums(byte[] b)
    {
        if (b.Length >= 20)
        {
            int ihl = (b[0] & 0x0F) * 4;
            int total = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(2)), b.Length);
            FixIgmpChecksum(b, ihl, total);
        }
        FixIpv4Checksum(b);
    }
}
