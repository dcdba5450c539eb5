using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace IngestCluster.Lab.Topology;

/// <summary>
/// A process the lab started (usually through <c>ip netns exec</c>, which execs in place, so the PID is the
/// program's own). It keeps every output line, for waiting on and for the failure message, and it is stopped by
/// its PID only: SIGTERM first, SIGKILL after a grace period.
/// </summary>
public sealed partial class LabProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly object _gate = new();
    private readonly string _logPath;
    private readonly StreamWriter _log;

    private LabProcess(string name, Process process, string logPath)
    {
        Name = name;
        _process = process;
        _logPath = logPath;
        _log = new StreamWriter(logPath, append: false, Encoding.UTF8) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data, "");
        process.ErrorDataReceived += (_, e) => OnLine(e.Data, "[stderr] ");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    public string LogPath => _logPath;

    public static LabProcess Start(string name, string logDirectory, string file, IEnumerable<string> args,
        IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        return new LabProcess(name, process, Path.Combine(logDirectory, $"{name}.log"));
    }

    public IReadOnlyList<string> Lines()
    {
        lock (_gate)
        {
            return [.. _lines];
        }
    }

    /// <summary>Waits until some output line satisfies <paramref name="match"/>, and returns it.</summary>
    public async Task<string> WaitForLine(Func<string, bool> match, TimeSpan timeout, int skip = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (_gate)
            {
                for (int i = skip; i < _lines.Count; i++)
                {
                    if (match(_lines[i]))
                    {
                        return _lines[i];
                    }
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name}: no matching output line within {timeout}. Last lines:\n{Tail(30)}");
            }
            if (_process.HasExited)
            {
                await Task.Delay(100);
                lock (_gate)
                {
                    if (!_lines.Skip(skip).Any(match))
                    {
                        throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}. Last lines:\n{Tail(30)}");
                    }
                }
                continue;
            }
            await Task.Delay(20);
        }
    }

    public string Tail(int count)
    {
        lock (_gate)
        {
            return string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - count)));
        }
    }

    /// <summary>Sends <paramref name="signal"/> (a number: 2 SIGINT, 9 SIGKILL, 15 SIGTERM, 19 SIGSTOP, 18 SIGCONT) to
    /// this process, by its PID.</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, signal);
        }
    }

    /// <summary>SIGTERM, then SIGKILL if it has not exited within <paramref name="grace"/>.</summary>
    public async Task Stop(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }
        _ = Kill(_process.Id, 15);
        using var cts = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
        lock (_gate)
        {
            _log.Dispose();
        }
    }

    private void OnLine(string? line, string prefix)
    {
        if (line is null)
        {
            return;
        }
        lock (_gate)
        {
            _lines.Add(prefix + line);
            try
            {
                _log.WriteLine(prefix + line);
            }
            catch (ObjectDisposedException)
            {
                // Output after Dispose: the line is kept in memory only.
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
