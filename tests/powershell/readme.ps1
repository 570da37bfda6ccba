# The README's PowerShell examples, run as written, on the GitHub Windows job
# (.github/workflows/ci.yml), in Windows PowerShell 5.1 and in PowerShell 7: the counterpart of
# tests/it/examples.rs, which runs the bash ones. Each ```powershell block of README.md runs in
# order, in one session, in a new folder, with the built qs-jwt.exe on PATH: $env:QSJWTPRIVKEY,
# backtick continuation, $LASTEXITCODE and the completion script as a user meets them.
# Invoke-RestMethod is a stand-in that reaches no server (as curl is in tests/it/examples.rs).
# Left out, and said so: blocks with a `...` placeholder, and the login commands' and
# oauth-qscloud's token request blocks, which would reach a real Qlik Cloud host.
#
# Usage: powershell -File tests/powershell/readme.ps1 <folder holding qs-jwt.exe>
param([Parameter(Mandatory = $true)][string]$BinFolder)
# Not 'Stop': Windows PowerShell 5.1 may turn a native program's log lines on standard error
# into errors. Every step checks $LASTEXITCODE instead, as the README's examples do, and a
# failure is a `throw`, which ends the script with exit 1 either way.
$ErrorActionPreference = 'Continue'

$repo = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
$exe = Join-Path (Resolve-Path $BinFolder) 'qs-jwt.exe'
if (-not (Test-Path $exe)) { throw "no qs-jwt.exe in $BinFolder" }
$env:PATH = "$(Split-Path $exe);$env:PATH"
Remove-Item Env:QSJWTPRIVKEY -ErrorAction SilentlyContinue
# The README's one placeholder variable: a tenant admin's API key, for Invoke-RestMethod.
$env:QLIK_API_KEY = 'placeholder-api-key'

$work = Join-Path ([System.IO.Path]::GetTempPath()) ("qs-jwt-readme-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $work | Out-Null
Set-Location $work

function Invoke-RestMethod {
    # A plain function: it takes -Uri, -Headers and the rest in $args, and wins over the cmdlet.
    Write-Host "Invoke-RestMethod (a stand-in in tests/powershell/readme.ps1) reached no server"
}

# The key pair every example signs with is made by the quick start's block (--cert-create true); its
# `cargo install` line is left out: the built qs-jwt.exe is on PATH already.
$readme = Get-Content (Join-Path $repo 'README.md')
$blocks = @()
$inside = $false
foreach ($line in $readme) {
    if (-not $inside -and $line.Trim() -eq '```powershell') { $inside = $true; $text = @(); continue }
    if ($inside -and $line.Trim() -eq '```') { $inside = $false; $blocks += , ($text -join "`n"); continue }
    if ($inside -and -not $line.StartsWith('cargo ')) { $text += $line }
}
if ($blocks.Count -lt 4) { throw "README.md has $($blocks.Count) PowerShell blocks; expected at least 4" }

$ran = 0
foreach ($block in $blocks) {
    $first = ($block -split "`n")[0]
    if ($block -match '\.\.\.' -or $block -match 'login-q' -or
        ($block -match 'oauth-qscloud --tenant' -and $block -notmatch '--assertion-only')) {
        Write-Host "skipped: $first"
        continue
    }
    Write-Host ">>> $first"
    $token = $null
    $global:LASTEXITCODE = 0
    # `exit 1` in a block (the README's "if ($LASTEXITCODE -ne 0) { exit 1 }") ends this
    # script with 1: the test fails, as the user's script would.
    . ([scriptblock]::Create($block))
    if ($LASTEXITCODE -ne 0) { throw "exit $LASTEXITCODE after: $first" }
    if ($null -ne $token) {
        if ($token -isnot [string] -or ($token -split '\.').Count -ne 3) {
            throw "`$token is not one JWT after: $first ($token)"
        }
        & $exe decode --jwt $token --cert-publickey-file .\publickey.cer --minimal-output | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "the token of '$first' does not verify with publickey.cer" }
        Write-Host "    `$token verifies with publickey.cer"
    }
    $ran++
}
if (-not (Get-Command -Name qs-jwt -CommandType Application)) { throw "qs-jwt is not on PATH" }
# The completion block registered a completer for qs-jwt: ask it what follows `qs-jwt cr`.
$completion = TabExpansion2 -inputScript 'qs-jwt cr' -cursorColumn 9
$texts = @($completion.CompletionMatches | ForEach-Object { $_.CompletionText })
if ($texts -notcontains 'create-qseow' -or $texts -notcontains 'create-qscloud') {
    throw "the completion script did not complete 'qs-jwt cr': $($texts -join ', ')"
}
Write-Host "ran $ran of $($blocks.Count) PowerShell blocks of README.md; completion works"
Set-Location $repo
Remove-Item -Recurse -Force $work
