// tws-bridge under PM2 (for teams that already run their Node.js apps with PM2):
//   pm2 start deploy/pm2/ecosystem.config.js && pm2 save
// gunicorn starts and supervises the TWS worker itself, so PM2 runs only gunicorn.
module.exports = {
  apps: [
    {
      name: "tws-bridge",
      cwd: __dirname + "/../..",
      script: ".venv/bin/gunicorn",
      args: "-c gunicorn.conf.py wsgi:app",
      interpreter: "none",
      kill_timeout: 30000,
      kill_signal: "SIGTERM", // gunicorn's graceful stop; PM2's default SIGINT drops requests in flight
      autorestart: true,
      env: {
        // settings come from .env in the repository; anything here overrides it
      },
    },
  ],
};
