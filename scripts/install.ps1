# Installs kit on Windows (x86-64; Windows on Arm runs it emulated), in PowerShell 5.1 or 7:
#
#   irm https://github.com/myorg/kit/releases/latest/download/install.ps1 | iex
#
# It downloads kitops-windows-x64.zip and SHA256SUMS from the release page, checks the archive's
# SHA-256, checks that kit.exe runs, and installs it as ~\.local\bin\kit.exe. Nothing is installed
# when a step fails, and its temporary directory is removed on every exit (error, Ctrl-C, success).
#
# Environment:
#   KIT_INSTALL_BASE_URL  where the archives and SHA256SUMS are (default: the latest release,
#                         below); an internal mirror (https://, http://) or a directory
#                         (file:///C:/kit/0.1.0, file://server/share/kit)
#   KIT_INSTALL_DIR       where kit.exe goes (default: ~\.local\bin)

# The project's release page: the latest release's assets.
$KitReleasesUrl = 'https://github.com/myorg/kit/releases/latest/download'

$ErrorActionPreference = 'Stop'
# Invoke-WebRequest draws its progress bar for every chunk: without this, Windows PowerShell
# downloads many times slower.
$ProgressPreference = 'SilentlyContinue'

function Stop-Install([string]$Message, [string[]]$Detail = @()) {
  [Console]::Error.WriteLine("kit install: $Message")
  foreach ($line in $Detail) { [Console]::Error.WriteLine("  $line") }
  [Console]::Error.WriteLine('Nothing was installed.')
  throw [System.OperationCanceledException]::new("kit install: $Message")
}

function Get-ReleaseFile([string]$Url, [string]$OutFile) {
  $uri = [Uri]$Url
  if ($uri.Scheme -eq 'file') {
    if (-not (Test-Path -LiteralPath $uri.LocalPath -PathType Leaf)) { Stop-Install "$($uri.LocalPath): no such file" }
    Copy-Item -LiteralPath $uri.LocalPath -Destination $OutFile
  } elseif ($uri.Scheme -eq 'https' -or $uri.Scheme -eq 'http') {
    try {
      Invoke-WebRequest -Uri $Url -OutFile $OutFile -UseBasicParsing
    } catch {
      Stop-Install "could not download $Url" @($_.Exception.Message)
    }
  } else {
    Stop-Install "KIT_INSTALL_BASE_URL must start with https://, http:// or file:// (got $Url)"
  }
}

function Install-Kit {
  $baseUrl = if ($env:KIT_INSTALL_BASE_URL) { $env:KIT_INSTALL_BASE_URL } else { $KitReleasesUrl }
  $baseUrl = $baseUrl.TrimEnd('/')
  $installDir = if ($env:KIT_INSTALL_DIR) { $env:KIT_INSTALL_DIR } else { Join-Path $HOME '.local\bin' }

  # --- which archive ---------------------------------------------------------------------
  if ($PSVersionTable.PSEdition -eq 'Core' -and -not $IsWindows) {
    Stop-Install 'this is not Windows: run install.sh instead' @("curl -fsSL $KitReleasesUrl/install.sh | sh")
  }
  $arch = $env:PROCESSOR_ARCHITEW6432
  if (-not $arch) { $arch = $env:PROCESSOR_ARCHITECTURE }
  if ($arch -ne 'AMD64' -and $arch -ne 'ARM64') {
    Stop-Install "there is no kit release for Windows on $arch" @('Releases: Windows (x86-64), Linux (x86-64, arm64), macOS (Apple silicon).')
  }
  $archive = 'kitops-windows-x64.zip'

  $tmp = Join-Path ([IO.Path]::GetTempPath()) ("kit-install-" + [Guid]::NewGuid().ToString('N'))
  $staged = $null
  New-Item -ItemType Directory -Path $tmp | Out-Null
  try {
    # --- download and check --------------------------------------------------------------
    Write-Host "Downloading $archive from $baseUrl"
    Get-ReleaseFile "$baseUrl/SHA256SUMS" (Join-Path $tmp 'SHA256SUMS')
    Get-ReleaseFile "$baseUrl/$archive" (Join-Path $tmp $archive)

    # the line for this archive: "<64 hex>  <name>" (or " *<name>", binary mode)
    $expected = $null
    foreach ($line in Get-Content -LiteralPath (Join-Path $tmp 'SHA256SUMS')) {
      if ($line -match '^([0-9a-fA-F]{64}) [ *](\S+)$' -and $Matches[2] -eq $archive) { $expected = $Matches[1].ToLowerInvariant(); break }
    }
    if (-not $expected) { Stop-Install "SHA256SUMS at $baseUrl has no line for $archive" }
    $actual = (Get-FileHash -LiteralPath (Join-Path $tmp $archive) -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($actual -ne $expected) {
      Stop-Install "checksum mismatch: $archive is not the file SHA256SUMS lists" @(
        "expected sha256 $expected",
        "got      sha256 $actual",
        'The download was damaged or the file on the server was replaced.')
    }

    $extracted = Join-Path $tmp 'x'
    Expand-Archive -LiteralPath (Join-Path $tmp $archive) -DestinationPath $extracted
    $exe = Join-Path $extracted 'kit.exe'
    if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) { Stop-Install "$archive holds no kit.exe" }
    # a downloaded file carries the "from the internet" mark; SmartScreen would ask about it
    Unblock-File -LiteralPath $exe

    # it must run here
    try {
      $output = & $exe version 2>&1 | Out-String
    } catch {
      Stop-Install 'kit.exe does not run on this machine:' @($_.Exception.Message)
    }
    if ($LASTEXITCODE -ne 0) { Stop-Install 'kit.exe does not run on this machine:' @($output.Trim()) }
    $version = if ($output -match 'Version: (\S+)') { $Matches[1] } else { '' }

    # --- install -------------------------------------------------------------------------
    New-Item -ItemType Directory -Path $installDir -Force | Out-Null
    $staged = Join-Path $installDir ".kit-install-$PID.exe"
    Copy-Item -LiteralPath $exe -Destination $staged
    Move-Item -LiteralPath $staged -Destination (Join-Path $installDir 'kit.exe') -Force
    $staged = $null

    Write-Host "Installed kit $version to $(Join-Path $installDir 'kit.exe')"
    $userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
    $onPath = @($env:Path -split ';') + @("$userPath" -split ';') | Where-Object { $_.TrimEnd('\') -ieq $installDir.TrimEnd('\') }
    if (-not $onPath) {
      Write-Host ''
      Write-Host "$installDir is not on your PATH. Add it (then open a new terminal):"
      Write-Host "  [Environment]::SetEnvironmentVariable('Path', [Environment]::GetEnvironmentVariable('Path', 'User') + ';$installDir', 'User')"
    }
    Write-Host ''
    Write-Host "Next: in your project's directory, describe it in a Kitfile:"
    Write-Host '  kit init .'
  } finally {
    if ($staged) { Remove-Item -LiteralPath $staged -Force -ErrorAction SilentlyContinue }
    Remove-Item -LiteralPath $tmp -Recurse -Force -ErrorAction SilentlyContinue
  }
}

try {
  Install-Kit
} catch [System.OperationCanceledException] {
  # Stop-Install has said what went wrong; `irm ... | iex` must not close the user's window
  if ($MyInvocation.MyCommand.Path) { exit 1 }
}
