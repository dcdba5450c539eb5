namespace IngestCluster.Lab.Topology;

/// <summary>bind9 (named) serving given zones on one address and port inside a lab namespace.</summary>
public sealed class Bind9Server
{
    /// <summary>A lab zone file: the origin, a 60 s TTL, an SOA and NS under lab.example, then the records.</summary>
    public static string ZoneFile(string origin, string records) => $"""
        $ORIGIN {origin}.
        $TTL 60
        @ IN SOA ns.lab.example. hostmaster.lab.example. 1 60 60 600 30
        @ IN NS ns.lab.example.
        {records}

        """;

    private Bind9Server(LabProcess process, string address, int port)
    {
        Process = process;
        Address = address;
        Port = port;
    }

    public LabProcess Process { get; }

    public string Address { get; }

    public int Port { get; }

    /// <summary>Starts named in the foreground (-g) with one master zone per (origin, zone file text).</summary>
    public static async Task<Bind9Server> Start(NetnsLab lab, string ns, string address, int port,
        IReadOnlyDictionary<string, string> zones)
    {
        string dir = Path.Combine(lab.Directory, $"bind-{ns}");
        System.IO.Directory.CreateDirectory(dir);
        var conf = new System.Text.StringBuilder();
        conf.Append($$"""
            options {
              directory "{{dir}}";
              listen-on port {{port}} { {{address}}; };
              listen-on-v6 { none; };
              pid-file "{{dir}}/named.pid";
              recursion no;
              dnssec-validation no;
              allow-query { any; };
            };

            """);
        int i = 0;
        foreach (var (origin, text) in zones)
        {
            string file = Path.Combine(dir, $"zone{i++}.db");
            File.WriteAllText(file, text);
            conf.Append($"zone \"{origin}\" {{ type master; file \"{file}\"; }};\n");
        }
        string confPath = Path.Combine(dir, "named.conf");
        File.WriteAllText(confPath, conf.ToString());
        NetnsLab.Run("named-checkconf", "-z", confPath);

        var process = lab.Start(ns, $"named-{ns}", "/usr/sbin/named", ["-g", "-u", "root", "-c", confPath]);
        await process.WaitForLine(l => l.Contains("running", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        return new Bind9Server(process, address, port);
    }
}
