using IngestCluster.Protocols.Driad;
using Xunit.Abstractions;

namespace IngestCluster.Protocols.Tests.Driad;

public class AmtRelayRecordRobustnessTests(ITestOutputHelper output)
{
    private const int Iterations = 100_000;

    [Theory]
    [InlineData(20261123)]
    [InlineData(7450)]
    public void Mutated_real_records_never_throw_and_every_failure_is_typed(int seed)
    {
        var valid = DnsVectors.GenericRdata("amtrelay-generic.zone")
            .Concat(DnsVectors.GenericRdata("real-world-amtrelay.txt"))
            .Select(r => r.Rdata)
            .ToArray();
        var random = new Random(seed);
        int accepted = 0;
        int rejected = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = Mutate(valid[random.Next(valid.Length)], random);
            try
            {
                if (AmtRelayRecord.TryRead(input, out var record, out var error))
                {
                    Assert.False(error.IsError);
                    // Whatever is accepted re-encodes and reads back as the same record.
                    Assert.True(AmtRelayRecord.TryRead(record.ToArray(), out var again, out var againError), againError.ToString());
                    Assert.Equal(record, again);
                    Assert.True(AmtRelayRecord.TryParse(record.ToString(), out var parsed, out var parseError), parseError);
                    Assert.Equal(record, parsed);
                    accepted++;
                }
                else
                {
                    Assert.NotEqual(ParseFailure.None, error.Kind);
                    Assert.InRange(error.Offset, 0, input.Length);
                    Assert.NotEmpty(error.Message);
                    rejected++;
                }
            }
            catch (Exception e)
            {
                output.WriteLine($"seed {seed}, iteration {i}, input {Convert.ToHexString(input)}");
                throw new InvalidOperationException($"seed {seed}, iteration {i}, input {Convert.ToHexString(input)}: {e.Message}", e);
            }
        }
        output.WriteLine($"seed {seed}: {accepted} accepted, {rejected} rejected");
        Assert.True(accepted > 0 && rejected > 0, $"seed {seed}: the mutations should produce both outcomes");
    }

    internal static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = original.ToList();
        int steps = 1 + random.Next(3);
        for (int s = 0; s < steps; s++)
        {
            switch (random.Next(6))
            {
                case 0: // truncate
                    bytes = bytes.Take(random.Next(bytes.Count + 1)).ToList();
                    break;
                case 1: // flip a bit
                    if (bytes.Count > 0)
                    {
                        int at = random.Next(bytes.Count);
                        bytes[at] ^= (byte)(1 << random.Next(8));
                    }
                    break;
                case 2: // a length byte that lies: overwrite a label length (or any byte) with a plausible lie
                    if (bytes.Count > 2)
                    {
                        int at = 2 + random.Next(bytes.Count - 2);
                        bytes[at] = random.Next(4) switch
                        {
                            0 => (byte)random.Next(64),
                            1 => (byte)(0xC0 | random.Next(64)),
                            2 => (byte)(bytes[at] + 1),
                            _ => (byte)random.Next(256),
                        };
                    }
                    break;
                case 3: // append garbage
                    for (int k = random.Next(1, 4); k > 0; k--)
                    {
                        bytes.Add((byte)random.Next(256));
                    }
                    break;
                case 4: // change the relay type
                    if (bytes.Count > 1)
                    {
                        bytes[1] = (byte)((bytes[1] & 0x80) | random.Next(6));
                    }
                    break;
                default: // drop one byte in the middle
                    if (bytes.Count > 0)
                    {
                        bytes.RemoveAt(random.Next(bytes.Count));
                    }
                    break;
            }
        }
        return [.. bytes];
    }
}
