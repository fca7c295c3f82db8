# pdgate image: built from source on Debian 12 with the same script the README uses.
FROM debian:12 AS build
WORKDIR /src
COPY dev.sh ./
RUN ./dev.sh build-deps && rm -rf /var/lib/apt/lists/*
COPY . .
# haswell (AVX2, BMI, PCLMUL) selects simdjson's fast kernel; pass --build-arg MARCH= for older CPUs.
ARG MARCH=haswell
RUN BUILD_TYPE=Release ./dev.sh build build -DPDGATE_MARCH=${MARCH} -DPDGATE_WERROR=OFF \
    && strip build/bin/pdgate

FROM debian:12-slim
COPY --from=build /src/dev.sh /tmp/dev.sh
RUN /tmp/dev.sh runtime-deps && rm -rf /var/lib/apt/lists/* /tmp/dev.sh \
    && useradd --system --uid 65532 --no-create-home pdgate
COPY --from=build /src/build/bin/pdgate /usr/local/bin/pdgate
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/pdgate"]
CMD ["--config", "/etc/pdgate/config.yaml"]
