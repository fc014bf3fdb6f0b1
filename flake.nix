{
  description = "Datalab: development shell with Python, PostgreSQL, Redis and the Kubernetes tools";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs { inherit system; };
        python = pkgs.python311;
      in
      {
        # mkShell brings a C compiler for the project's C kernels.
        # `nix develop`: then `python -m venv .venv && . .venv/bin/activate && pip install -e '.[test]'`
        # (or just scripts/run.sh / scripts/test.sh, which do that themselves).
        devShells.default = pkgs.mkShell {
          packages = [
            python
            pkgs.postgresql_15
            pkgs.redis
            pkgs.kubectl
            pkgs.kustomize
            pkgs.skaffold
            pkgs.kind
            pkgs.hadolint
            pkgs.git
          ];
          shellHook = ''
            export PGDATA="$PWD/var/postgres"
            export DATABASE_URL="postgres://$USER@127.0.0.1:5432/datalab"
            export REDIS_URL="redis://127.0.0.1:6379/0"
            echo "Datalab dev shell: python $(python --version | cut -d' ' -f2), kubectl, kustomize, skaffold, kind."
            echo "Start services: initdb -A trust && pg_ctl -l var/postgres.log start && createdb datalab; redis-server --daemonize yes"
          '';
        };
      });
}
