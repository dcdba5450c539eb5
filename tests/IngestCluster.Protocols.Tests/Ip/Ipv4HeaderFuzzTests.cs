using IngestCluster.Protocols.Amt;
using IngestCluster.Protocols.Ip;

namespace IngestCluster.Protocols.Tests.Ip;

public class Ipv4HeaderFuzzTests
{
    [Fact]
    public void Ipv4_header_reader_survives_mutated_packets_and_reports_where()
    {
        var seeds = CapturedMessages.AmtOfType(AmtMessageType.MulticastData).Take(5).Select(m => m[AmtMulticastData.HeaderLength..])
            .Concat(CapturedMessages.IgmpDatagrams).ToList();
        Fuzz.Run("Ipv4Header", seeds, (ReadOnlySpan<byte> input, out ParseError error) =>
        {
            if (!Ipv4Header.TryRead(input, out var h, out error))
            {
                return false;
            }
            if (h.HeaderLength < 20 || h.HeaderLength > h.TotalLength || h.TotalLength > input.Length)
            {
                throw new InvalidOperationException($"accepted header with IHL {h.HeaderLength}, total {h.TotalLength}, input {input.Length}");
            }
            return true;
        }, Fuzz.FixIpv4Checksum);
    }

    [Fact]
    public void Ttl_decrement_never_throws_and_keeps_a_valid_header_valid()
    {
        var rng = new Random(Fuzz.Seed);
        var builder = new Ipv4HeaderBuilder { Protocol = 17, Source = 0x0A4E0002, Destination = 0xE8010101 };
        var packet = new byte[40];
        for (int i = 0; i < 100_000; i++)
        {
            builder.Ttl = (byte)rng.Next(256);
            builder.Identification = (ushort)rng.Next(65536);
            builder.RouterAlert = rng.Next(2) == 0;
            builder.Write(packet, 40 - builder.Length);
            bool decremented = Ipv4Header.TryDecrementTtl(packet);
            Assert.Equal(builder.Ttl > 1, decremented);
            Assert.True(Ipv4Header.TryRead(packet, out var h, out var error), $"seed {Fuzz.Seed} iteration {i}: {error}");
            Assert.Equal(decremented ? builder.Ttl - 1 : builder.Ttl, h.Ttl);
        }
        Assert.False(Ipv4Header.TryDecrementTtl(new byte[19]));
    }
}
