# Sourced by the scripts that measure nginx one hop beside pdgate, so every arm runs the same
# nginx: one worker, kept-alive connections both ways (none closed after N requests, as pdgate
# closes none), responses not buffered (streams pass through as they come).
# shellcheck shell=bash

# write_nginx_conf FILE LISTEN_ADDRESS:PORT UPSTREAM_ADDRESS:PORT [ACCESS_LOG_DIRECTIVE]
# Writes an nginx.conf whose pid, logs and temp files stay in FILE's directory. The access log is
# off unless a directive is given (e.g. "access_log /tmp/x/access.log;"). Start it with
#   nginx -c FILE -g 'daemon off;'            (master + one worker)
#   nginx -c FILE -g 'daemon off; master_process off;'   (the worker alone, for valgrind)
write_nginx_conf() {
  local file=$1 listen=$2 upstream=$3 access_log=${4:-"access_log off;"}
  local dir
  dir=$(dirname "$file")
  mkdir -p "$dir/nginx-temp"
  # nginx's worker runs as another user when started as root: it must reach its temp files
  # (request bodies over 16 KiB), under a directory that mktemp made private.
  chmod 755 "$dir"
  chmod o+x "$(dirname "$dir")"
  cat >"$file" <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
  $access_log
  client_body_temp_path $dir/nginx-temp/client_body;
  proxy_temp_path $dir/nginx-temp/proxy;
  fastcgi_temp_path $dir/nginx-temp/fastcgi;
  uwsgi_temp_path $dir/nginx-temp/uwsgi;
  scgi_temp_path $dir/nginx-temp/scgi;
  upstream sim {
    server $upstream;
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen $listen;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
}
