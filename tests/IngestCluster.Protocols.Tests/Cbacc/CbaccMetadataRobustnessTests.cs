using System.Net;
using System.Text;
using IngestCluster.Protocols.Cbacc;
using Xunit.Abstractions;

namespace IngestCluster.Protocols.Tests.Cbacc;

public class CbaccMetadataRobustnessTests(ITestOutputHelper output)
{
    private const int Iterations = 100_000;
    private const string Alphabet = "{}[]\":,-0123456789.eE truefalsnul\\x";

    [Theory]
    [InlineData(20261123)]
    [InlineData(8777)]
    public void Mutated_documents_never_throw_and_every_failure_is_typed(int seed)
    {
        var valid = new[]
        {
            (CbaccSamples.Vector("older-response.json"), "23.212.185.4", "232.1.1.1"),
            (CbaccSamples.Vector("older-name-set.json"), "23.185.212.4", "232.10.10.1"),
            (CbaccSamples.Ours("ours-current-dorms.json"), "23.212.185.4", "232.1.1.1"),
            (CbaccSamples.Ours("ours-current-dorms.json"), "2001:db8::4", "ff3e::8000:1"),
            (CbaccSamples.Ours("ours-current-group-response.json"), "23.212.185.4", "232.1.1.1"),
        };
        var random = new Random(seed);
        int accepted = 0;
        int rejected = 0;
        for (int i = 0; i < Iterations; i++)
        {
            var (text, source, group) = valid[random.Next(valid.Length)];
            string input = Mutate(text, random);
            try
            {
                if (CbaccMetadata.TryRead(input, IPAddress.Parse(source), IPAddress.Parse(group), out var metadata, out var error))
                {
                    Assert.False(error.IsError);
                    Assert.True(metadata.BitsPerSecond >= 0 && metadata.MaxPacketSize >= 0 && metadata.Priority >= 0);
                    accepted++;
                }
                else
                {
                    Assert.NotEqual(CbaccFailure.None, error.Kind);
                    Assert.False(string.IsNullOrEmpty(error.Field));
                    Assert.False(string.IsNullOrEmpty(error.Message));
                    rejected++;
                }
            }
            catch (Exception e)
            {
                output.WriteLine($"seed {seed}, iteration {i}, input {input}");
                throw new InvalidOperationException($"seed {seed}, iteration {i}, input {input}: {e.Message}", e);
            }
        }
        output.WriteLine($"seed {seed}: {accepted} accepted, {rejected} rejected");
        Assert.True(accepted > 0 && rejected > 0, $"seed {seed}: the mutations should produce both outcomes");
    }

    private static string Mutate(string text, Random random)
    {
        var chars = new StringBuilder(text);
        int steps = 1 + random.Next(3);
        for (int s = 0; s < steps && chars.Length > 0; s++)
        {
            int at = random.Next(chars.Length);
            switch (random.Next(5))
            {
                case 0:
                    chars.Length = random.Next(chars.Length + 1);
                    break;
                case 1:
                    chars.Remove(at, 1);
                    break;
                case 2:
                    chars.Insert(at, Alphabet[random.Next(Alphabet.Length)]);
                    break;
                case 3:
                    chars[at] = Alphabet[random.Next(Alphabet.Length)];
                    break;
                default:
                    // Swap a digit for another, or a whole number for a hostile one.
                    if (char.IsAsciiDigit(chars[at]))
                    {
                        chars[at] = (char)('0' + random.Next(10));
                    }
                    else
                    {
                        chars.Insert(at, random.Next(3) switch { 0 => "-1", 1 => "99999999999999999999", _ => "\"" });
                    }
                    break;
            }
        }
        return chars.ToString();
    }
}
