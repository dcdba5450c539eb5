using System.Text;
using IngestCluster.Protocols.Joinfiles;
using Xunit.Abstractions;

namespace IngestCluster.Protocols.Tests.Joinfiles;

public class JoinfileRobustnessTests(ITestOutputHelper output)
{
    private const int Iterations = 100_000;
    private const string Alphabet = "0123456789.,:#abcdef \t\r\n-%x";
    private const string Valid = "# joins\n23.212.185.5,232.1.1.1\n\n198.51.100.12 , 232.1.1.2 , 42\n2001:db8::4,ff3e::8000:1,7 # v6\n";

    [Theory]
    [InlineData(20261123)]
    [InlineData(4607)]
    public void Mutated_joinfiles_never_throw_and_every_line_is_an_entry_or_an_error(int seed)
    {
        var random = new Random(seed);
        int withErrors = 0;
        for (int i = 0; i < Iterations; i++)
        {
            string input = Mutate(Valid, random);
            try
            {
                var content = Joinfile.Parse(input);
                int contentLines = input.ReplaceLineEndings("\n").Split('\n').Count(l => l.Split('#')[0].Trim().Length > 0);
                Assert.Equal(contentLines, content.Entries.Length + content.Errors.Length);
                foreach (var error in content.Errors)
                {
                    Assert.InRange(error.Line, 1, input.Length + 1);
                    Assert.False(string.IsNullOrEmpty(error.Message));
                }
                foreach (var entry in content.Entries)
                {
                    // Whatever is accepted prints back to a line that reads the same.
                    Assert.True(Joinfile.TryParseLine(entry.ToString(), out var again, out var againError), againError);
                    Assert.Equal(entry, again);
                }
                withErrors += content.Errors.IsEmpty ? 0 : 1;
            }
            catch (Exception e)
            {
                output.WriteLine($"seed {seed}, iteration {i}, input {input}");
                throw new InvalidOperationException($"seed {seed}, iteration {i}, input '{input}': {e.Message}", e);
            }
        }
        output.WriteLine($"seed {seed}: {withErrors} of {Iterations} inputs had errors");
        Assert.True(withErrors > 0 && withErrors < Iterations, $"seed {seed}: the mutations should produce both outcomes");
    }

    private static string Mutate(string text, Random random)
    {
        var chars = new StringBuilder(text);
        int steps = 1 + random.Next(3);
        for (int s = 0; s < steps && chars.Length > 0; s++)
        {
            int at = random.Next(chars.Length);
            switch (random.Next(4))
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
                default:
                    chars[at] = Alphabet[random.Next(Alphabet.Length)];
                    break;
            }
        }
        return chars.ToString();
    }
}
