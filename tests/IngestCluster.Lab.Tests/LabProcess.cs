using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace IngestCluster.Lab.Tests;

/// <summary>
/// One IngestCluster.Lab subcommand run as a real process: <c>ip netns exec NS dotnet IngestCluster.Lab.dll …</c>
/// (ip execs dotnet, so the PID is the peer's). Collects its JSON status lines; <see cref="Dispose"/> sends
/// SIGTERM to that PID, waits for a clean exit, and kills that PID only if it does not come.
/// </summary>
internal sealed partial class LabProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<JsonElement> _lines = [];
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _changed = new(0);

    public static string LabDll => Path.Combine(AppContext.BaseDirectory, "IngestCluster.Lab.dll");

    private static string DotNet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    public LabProcess(string? networkNamespace, params string[] arguments)
    {
        var start = new ProcessStartInfo(networkNamespace is null ? DotNet : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (networkNamespace is not null)
        {
            foreach (var a in new[] { "netns", "exec", networkNamespace, DotNet })
            {
                start.ArgumentList.Add(a);
            }
        }
        start.ArgumentList.Add(LabDll);
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _exited.TrySetResult();
                _changed.Release();
                return;
            }
            lock (_gate)
            {
                try
                {
                    _lines.Add(JsonDocument.Parse(e.Data).RootElement.Clone());
                }
                catch (JsonException)
                {
                    _stderr.Append("[stdout, not JSON] ").AppendLine(e.Data);
                }
            }
            _changed.Release();
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_gate)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public string StandardError
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    public IReadOnlyList<JsonElement> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public IReadOnlyList<JsonElement> Events(string name, int skip = 0) =>
        [.. Lines.Skip(skip).Where(l => l.GetProperty("event").GetString() == name)];

    /// <summary>How many lines have arrived so far: pass it as <c>skip</c> to look only at later ones.</summary>
    public int LineCount
    {
        get
        {
            lock (_gate)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>Waits (polling, with a deadline) for a status line with event <paramref name="name"/> that matches.</summary>
    public JsonElement WaitFor(string name, Func<JsonElement, bool>? match = null, TimeSpan? timeout = null, int skip = 0)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(15)).TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            foreach (var line in Events(name, skip))
            {
                if (match is null || match(line))
                {
                    return line;
                }
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"no '{name}' line from lab process {Pid} in time. stdout:\n" +
                    string.Join('\n', Lines.Select(l => l.GetRawText())) + "\nstderr:\n" + StandardError);
            }
            if (_exited.Task.IsCompleted)
            {
                throw new InvalidOperationException($"lab process {Pid} ended its output without a matching '{name}' line. stdout:\n" +
                    string.Join('\n', Lines.Select(l => l.GetRawText())) + "\nstderr:\n" + StandardError);
            }
            var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            _changed.Wait(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
        }
    }

    /// <summary>SIGTERM, then the exit code once the process has printed its last line.</summary>
    public int Stop(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15);
        }
        if (!_process.WaitForExit((int)(timeout ?? TimeSpan.FromSeconds(10)).TotalMilliseconds))
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
        {
            throw new TimeoutException($"lab process {Pid} did not exit within {timeout}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            Stop(TimeSpan.FromSeconds(5));
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _changed.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
